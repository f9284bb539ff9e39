//! The check after a creating run: every acknowledged chat and message exists, and the numbers
//! of the application's chats and of each chat's messages are gapless from 1 — read back
//! through the same API the load went through (a read refused as unavailable is tried again).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use chat_core::model::MAX_LIMIT;
use chat_core::{ChatApi, ChatNumber, PageRequest, Token};
use serde::Serialize;

/// One acknowledged creation.
#[derive(Debug, Clone, Copy)]
pub enum Ack {
    /// Message `number` in chat `chat`.
    Message(u32, u32),
    /// Chat `number`.
    Chat(u32),
}

/// The acknowledged creations of a run.
#[derive(Debug, Default)]
pub struct Acks {
    messages: BTreeMap<u32, Vec<u32>>,
    chats: Vec<u32>,
}

impl Acks {
    /// Adds one.
    pub fn push(&mut self, ack: Ack) {
        match ack {
            Ack::Message(chat, n) => self.messages.entry(chat).or_default().push(n),
            Ack::Chat(n) => self.chats.push(n),
        }
    }

    /// Adds another run's.
    pub fn extend(&mut self, other: Acks) {
        for (chat, mut numbers) in other.messages {
            self.messages.entry(chat).or_default().append(&mut numbers);
        }
        self.chats.extend(other.chats);
    }

    /// Whether nothing was created.
    pub fn is_empty(&self) -> bool {
        self.chats.is_empty() && self.messages.values().all(Vec::is_empty)
    }
}

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Every acknowledged creation was found and every numbering is gapless.
    pub ok: bool,
    /// Acknowledged messages and chats.
    pub acknowledged_messages: u64,
    pub acknowledged_chats: u64,
    /// Chats whose messages were read back (plus the application's chat list, when chats
    /// were created).
    pub chats_checked: u64,
    /// What was wrong (the first few problems), or why the check could not run.
    pub problems: Vec<String>,
}

impl Verification {
    /// One line for the summary.
    pub fn summary(&self) -> String {
        use crate::progress::{plural, thousands};
        if self.ok {
            let mut parts = Vec::new();
            if self.acknowledged_messages > 0 {
                parts.push(format!(
                    "all {} acknowledged messages exist, numbers gapless in each of {}",
                    thousands(self.acknowledged_messages),
                    plural(self.chats_checked, "chat", "chats")
                ));
            }
            if self.acknowledged_chats > 0 {
                parts.push(format!(
                    "all {} acknowledged chats exist, chat numbers gapless",
                    thousands(self.acknowledged_chats)
                ));
            }
            format!("verified: {}", parts.join("; "))
        } else {
            format!("NOT verified: {}", self.problems.join("; "))
        }
    }
}

const MAX_PROBLEMS: usize = 5;

/// Reads back what `acks` says was created in the application `token`.
pub async fn check(api: &dyn ChatApi, token: &Token, acks: &Acks) -> Verification {
    let mut v = Verification {
        ok: true,
        acknowledged_messages: acks.messages.values().map(|n| n.len() as u64).sum(),
        acknowledged_chats: acks.chats.len() as u64,
        chats_checked: 0,
        problems: Vec::new(),
    };
    for (chat, acked) in &acks.messages {
        let Ok(number) = ChatNumber::new(*chat) else {
            v.fail(format!("chat {chat}: not a valid number"));
            continue;
        };
        let found = retrying(|| {
            chat_core::collect_pages(
                PageRequest {
                    limit: MAX_LIMIT,
                    after: None,
                    newest: false,
                },
                true,
                |page| api.list_messages(token, number, page),
            )
        })
        .await;
        match found {
            Ok((messages, _)) => {
                let numbers = messages.iter().map(|m| m.number.get());
                v.numbering(&format!("chat {chat}"), "message", numbers, acked);
                v.chats_checked += 1;
            }
            Err(e) => v.fail(format!("reading chat {chat}'s messages: {e}")),
        }
    }
    if !acks.chats.is_empty() {
        let found = retrying(|| {
            chat_core::collect_pages(
                PageRequest {
                    limit: MAX_LIMIT,
                    after: None,
                    newest: false,
                },
                true,
                |page| api.list_chats(token, page),
            )
        })
        .await;
        match found {
            Ok((chats, _)) => {
                let numbers = chats.iter().map(|c| c.number.get());
                v.numbering("the application", "chat", numbers, &acks.chats);
            }
            Err(e) => v.fail(format!("reading the chats: {e}")),
        }
    }
    v
}

/// Runs a read again when the target answers it is unavailable (a rate limit, a restart):
/// three more tries, 0.5, 1 and 2 s apart.
async fn retrying<T, F, Fut>(mut read: F) -> chat_core::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = chat_core::Result<T>>,
{
    let mut pause = Duration::from_millis(500);
    for _ in 0..3 {
        match read().await {
            Err(chat_core::Error::Unavailable { .. }) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    read().await
}

impl Verification {
    fn fail(&mut self, problem: String) {
        self.ok = false;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        }
    }

    /// Checks that `found` is exactly 1..=N and holds every acknowledged number.
    fn numbering(
        &mut self,
        owner: &str,
        what: &str,
        found: impl Iterator<Item = u32>,
        acked: &[u32],
    ) {
        let found: BTreeSet<u32> = found.collect();
        let len = found.len() as u64;
        if let Some(gap) =
            (1..=len).find(|n| u32::try_from(*n).map_or(true, |n| !found.contains(&n)))
        {
            self.fail(format!(
                "{owner}: {what} numbers are not gapless ({len} stored, {what} {gap} missing)"
            ));
        }
        let mut missing = acked.iter().filter(|n| !found.contains(n));
        if let Some(first) = missing.next() {
            self.fail(format!(
                "{owner}: {} acknowledged {what}s not found (first: {first})",
                1 + missing.count()
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = acked.iter().find(|n| !seen.insert(**n)) {
            self.fail(format!("{owner}: {what} {dup} was acknowledged twice"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verification() -> Verification {
        Verification {
            ok: true,
            acknowledged_messages: 0,
            acknowledged_chats: 0,
            chats_checked: 0,
            problems: Vec::new(),
        }
    }

    #[test]
    fn gapless_numbers_holding_every_ack_pass() {
        let mut v = verification();
        v.numbering("chat 1", "message", [3, 1, 2].into_iter(), &[1, 3]);
        assert!(v.ok, "{:?}", v.problems);
    }

    #[test]
    fn a_gap_a_missing_ack_and_a_duplicate_ack_each_fail() {
        let mut v = verification();
        v.numbering("chat 1", "message", [1, 3].into_iter(), &[1]);
        assert!(!v.ok);
        assert!(
            v.problems[0].contains("message 2 missing"),
            "{:?}",
            v.problems
        );

        let mut v = verification();
        v.numbering("chat 1", "message", [1, 2].into_iter(), &[2, 5]);
        assert!(v.problems[0].contains("1 acknowledged messages not found (first: 5)"));

        let mut v = verification();
        v.numbering("chat 1", "message", [1, 2].into_iter(), &[2, 2]);
        assert!(v.problems[0].contains("acknowledged twice"));
    }
}
