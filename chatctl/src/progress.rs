//! Progress of the long jobs (import, recount, reindex): an indicatif bar behind
//! [`chat_core::Progress`], drawn on stderr only when it is a terminal, and the one-line
//! summary each job ends with (items, duration, rate).

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar on stderr; one bar per phase of the job.
pub struct Bar {
    quiet: bool,
    current: Mutex<Option<ProgressBar>>,
}

impl Bar {
    /// A bar that draws nothing when `quiet` (indicatif also hides it when stderr is not a
    /// terminal, so logs and pipes stay clean).
    pub fn new(quiet: bool) -> Self {
        Bar {
            quiet,
            current: Mutex::new(None),
        }
    }

    fn with_current(&self, f: impl FnOnce(&ProgressBar)) {
        // A poisoned lock only means a drawing call panicked; the bar itself is still usable.
        let guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = guard.as_ref() {
            f(bar);
        }
    }
}

impl chat_core::Progress for Bar {
    fn start(&self, phase: &str, total: Option<u64>) {
        let target = if self.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), target).with_style(bar_style()),
            None => ProgressBar::with_draw_target(None, target).with_style(spinner_style()),
        };
        bar.set_message(phase.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = guard.replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        self.with_current(|b| b.inc(n));
    }

    fn finish(&self) {
        let mut guard = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bar) = guard.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        chat_core::Progress::finish(self);
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{msg:>10} [{bar:30.cyan/blue}] {human_pos}/{human_len} {rate} eta {eta}",
    )
    .map(|style| {
        style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate_per_sec(state.per_sec()));
            },
        )
    })
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// A bar's rate as a whole number with thousands separators: `1,752/s`, not `1751.9311/s`.
fn rate_per_sec(per_sec: f64) -> String {
    let whole = if per_sec.is_finite() && per_sec > 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = per_sec.round() as u64;
        n
    } else {
        0
    };
    format!("{}/s", thousands(whole))
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {human_pos} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0.012 s` → `12 ms`, `2.3456 s` → `2.35 s`.
pub fn duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// How many `unit` per second, e.g. `4,210 messages/s`.
pub fn rate(items: u64, d: Duration, unit: &str) -> String {
    let secs = d.as_secs_f64().max(1e-3);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let per_sec = (items as f64 / secs).round() as u64;
    format!("{} {unit}/s", thousands(per_sec))
}

/// Jobs shorter than this get no rate in their summary: it would only measure the clock.
const SHORTEST_RATED: Duration = Duration::from_millis(50);

/// The closing line of a long job, e.g.
/// `import: 10,000 messages into chat 1 in 2.31 s (4,329 messages/s)`: what and how many
/// (`unit` is the singular and plural name), where (`scope`), how long, how fast (only when
/// the job took long enough for a rate to mean something), then the `outcome` if there is
/// more to say.
pub fn summary(
    job: &str,
    items: u64,
    (one, many): (&str, &str),
    scope: &str,
    d: Duration,
    outcome: &str,
) -> String {
    let rated = if d >= SHORTEST_RATED {
        format!(" ({})", rate(items, d, many))
    } else {
        String::new()
    };
    format!(
        "{job}: {}{scope} in {}{rated}{outcome}",
        plural(items, one, many),
        duration(d),
    )
}

/// `1 application`, `2 applications`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(plural(1, "chat", "chats"), "1 chat");
        assert_eq!(plural(1000, "chat", "chats"), "1,000 chats");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration(Duration::from_millis(12)), "12 ms");
        assert_eq!(duration(Duration::from_millis(2346)), "2.35 s");
        assert_eq!(
            summary(
                "import",
                10_000,
                ("message", "messages"),
                " into chat 1",
                Duration::from_secs(2),
                ""
            ),
            "import: 10,000 messages into chat 1 in 2.00 s (5,000 messages/s)"
        );
        assert_eq!(
            summary(
                "recount",
                1,
                ("chat", "chats"),
                " of 1 application",
                Duration::from_millis(0),
                "; every count was right"
            ),
            "recount: 1 chat of 1 application in 0 ms; every count was right"
        );
        assert_eq!(rate_per_sec(1751.9311), "1,752/s");
        assert_eq!(rate_per_sec(f64::NAN), "0/s");
    }

    #[test]
    fn a_bar_accepts_phases_in_any_order() {
        use chat_core::Progress;
        let bar = Bar::new(true);
        bar.advance(1); // before any phase: ignored
        bar.start("chats", Some(2));
        bar.advance(2);
        bar.start("messages", None);
        bar.advance(10);
        bar.finish();
        bar.finish();
    }
}
