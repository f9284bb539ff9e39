//! CPU time of other processes over the measured run (`--cpu NAME=PID`): the server, Redis, a
//! worker. Read from `/proc/PID/stat` (user plus system time of every thread, living or
//! exited) at the start and the end of the run, so warm-up, seeding and verification are left
//! out; divided by the successful requests it gives the CPU each request cost that process.

use std::time::Duration;

use serde::Serialize;

use crate::exit::{CliError, CliResult};

/// Clock ticks per second of the times in `/proc/PID/stat` (`USER_HZ`: 100 on Linux, whatever
/// the kernel's own tick rate).
const TICKS_PER_SECOND: u64 = 100;

/// A process whose CPU time a run measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The name it is reported under.
    pub name: String,
    /// Its process id.
    pub pid: u32,
}

/// `NAME=PID`, or `NAME=self` for this process (the load generator).
pub fn parse(s: &str) -> Result<Watched, String> {
    let (name, pid) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=PID, e.g. redis=1234"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{s:?}: the name before `=` is empty"));
    }
    let parsed = if pid.trim() == "self" {
        Some(std::process::id())
    } else {
        pid.trim().parse::<u32>().ok()
    };
    let pid = parsed
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{s:?}: {pid:?} is not a process id"))?;
    Ok(Watched {
        name: name.to_owned(),
        pid,
    })
}

/// User plus system time of `pid` so far.
pub fn sample(pid: u32) -> CliResult<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::input(format!("--cpu: cannot read {path}: {e}")))?;
    let ticks = ticks(&text)
        .ok_or_else(|| CliError::failed(format!("--cpu: {path} has an unexpected format")))?;
    Ok(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

/// utime + stime of a `/proc/PID/stat` line. The command name (field 2) is in parentheses and
/// may hold spaces, so fields are counted after its closing parenthesis: the state is the first
/// of them, utime the 12th and stime the 13th.
fn ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The CPU times at the start of a run.
pub struct Start(Vec<(Watched, Duration)>);

/// Samples every watched process (failing at once when one cannot be read).
pub fn start(watched: &[Watched]) -> CliResult<Start> {
    watched
        .iter()
        .map(|w| Ok((w.clone(), sample(w.pid)?)))
        .collect::<CliResult<_>>()
        .map(Start)
}

/// One process's CPU over the run.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub name: String,
    pub pid: u32,
    /// CPU seconds (user + system) spent during the measured run.
    pub cpu_s: f64,
    /// Cores kept busy on average: `cpu_s` over the run's duration.
    pub cores: f64,
    /// CPU microseconds per successful request.
    pub per_request_us: f64,
}

impl Start {
    /// The CPU each process spent since the start, over `elapsed` and `ok` requests. A process
    /// that exited meanwhile is reported with what it spent up to its last sample (none).
    pub fn finish(self, elapsed: Duration, ok: u64) -> Vec<CpuUse> {
        let secs = elapsed.as_secs_f64().max(1e-6);
        self.0
            .into_iter()
            .map(|(w, before)| {
                let spent = sample(w.pid)
                    .map(|after| after.saturating_sub(before))
                    .unwrap_or_default()
                    .as_secs_f64();
                CpuUse {
                    cpu_s: spent,
                    cores: spent / secs,
                    per_request_us: if ok == 0 {
                        0.0
                    } else {
                        spent * 1e6 / ok as f64
                    },
                    name: w.name,
                    pid: w.pid,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_pids_parse() {
        assert_eq!(
            parse("redis=42"),
            Ok(Watched {
                name: "redis".into(),
                pid: 42
            })
        );
        assert!(parse("redis").is_err());
        assert!(parse("=42").is_err());
        assert!(parse("redis=x").is_err());
        assert!(parse("redis=0").is_err());
        assert_eq!(parse("me=self").map(|w| w.pid), Ok(std::process::id()));
    }

    #[test]
    fn stat_lines_give_user_plus_system_ticks() {
        // A command name with a space and a parenthesis, as the kernel may show it.
        let line = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 4 0 \
                    100 1000000 300 18446744073709551615";
        assert_eq!(ticks(line), Some(325));
        assert_eq!(ticks("garbage"), None);
    }

    #[test]
    fn this_process_is_seen_spending_cpu() {
        let pid = std::process::id();
        let before = sample(pid).expect("own /proc entry");
        // Busy until the kernel has charged at least one tick more (bounded in wall time).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        loop {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            if sample(pid).expect("own /proc entry") > before {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no CPU time charged");
        }
        assert!(sample(u32::MAX).is_err());
    }
}
