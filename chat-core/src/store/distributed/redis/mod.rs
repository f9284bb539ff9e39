//! The Redis side of the distributed profile: key names, and the Lua scripts (the `lua/*.lua`
//! files) that number, enqueue and record a pending write in one round trip, with the replies
//! they give as Rust types.
//!
//! # Shards and hash tags
//!
//! The queue is S shard streams (`--redis-shards`, default 16; the same layout on one Redis
//! and on a cluster). Every key that a script touches carries the **hash tag of one shard**
//! (`{…}` in its name), so that each script's keys live in one cluster slot — the rule:
//!
//! * a **chat's** keys (its message counter, pending messages, tombstones and live channel)
//!   carry the tag of the chat's shard, where its message jobs are queued;
//! * an **application's** keys (its chat counter, pending chats, tombstones) carry the tag of
//!   the application's own shard, where its chat jobs and its delete job are queued;
//! * a shard's stream, dead-letter stream and error hash carry the shard's tag.
//!
//! A chat maps to its shard by a fixed hash of (application, chat), an application by a hash
//! of its id, so a chat's jobs always land in the same stream, in order (as a key's records
//! stay in one partition of a log). Shard k's tag is chosen so that its slot falls in the k-th
//! S-th of the slot space, so the shards spread evenly over a cluster's masters. Keys no
//! script touches (the search backlog, the reindex target, the recount lock, the shard
//! count) have no tag. Changing S would move chats to other shards: the first process records
//! S in Redis (`shards`), and a process configured otherwise refuses to start.
//!
//! Per application `a` (tag `A`: its shard's) and chat `c` (tag `C`: its shard's), under a
//! configurable prefix:
//!
//! | key            | type   | holds                                                        |
//! |----------------|--------|--------------------------------------------------------------|
//! | `cc:{A}:a`     | string | the last chat number handed out (chat N exists iff N ≤ it)   |
//! | `pc:{A}:a`     | hash   | chat number → pending record, until a worker persisted it    |
//! | `xa:{A}:a`     | string | set when application `a` is deleted (its deletion time)      |
//! | `xc:{A}:a`     | set    | the deleted chat numbers of application `a` (for counts)     |
//! | `mc:{C}:a:c`   | string | the last message number of chat `c`                          |
//! | `pm:{C}:a:c`   | hash   | message number → pending record (creation or latest edit)    |
//! | `xd:{C}:a:c`   | string | set when chat `c` is deleted (what the message scripts check)|
//! | `xm:{C}:a:c`   | set    | the deleted message numbers of chat `c`                      |
//! | `live:{C}:a:c` | channel| each creation, edit and deletion of chat `c`, as its job JSON (Pub/Sub; sharded Pub/Sub on a cluster) |
//! | `q:{k}`        | stream | shard k's jobs, one field `j` (JSON); consumer group `workers`|
//! | `dead:{k}`     | stream | shard k's jobs that failed too often, with their last error  |
//! | `err:{k}`      | hash   | entry id → last error of a job of shard k that failed        |
//! | `shards`       | string | S, recorded by the first process                             |
//!
//! Deletes are tombstones: a delete script checks that the thing exists, marks it deleted and
//! queues a delete job, in one step. The tombstones are kept for good: every script and read
//! path consults them (a deleted number is below its counter but exists no more), counts are
//! the counters less the sizes of the deleted sets (exact at once, and numbers are never
//! handed out again since counters never move back), and the worker never persists or indexes
//! anything a tombstone covers, so a create retried after the delete that follows it cannot
//! bring it back. A chat's delete marks the chat in its own slot (`xd`, with the delete job in
//! the chat's stream, after its message jobs) and then in its application's set (`xc`); an
//! application's delete sets its marker, which the write path checks beside each script.
//!
//! A pending record is JSON that starts with the entry id `e` of the job that wrote it, so a
//! worker drops it only if no later job (an edit) replaced it, and can tell without decoding it.
//! The JSON of jobs and records is put together by the caller (the body escaped once, in the
//! API process) and only completed by the script with what it alone knows: the number, the
//! entry id. Counters never move backwards; when one is missing (Redis lost its data: a
//! restart without its files, a cluster slot lost with its master and replica) it is seeded
//! by [`SEED`] with SET-if-absent, from the highest of the database's maximum and the numbers
//! still pending, so racing servers agree. A chat's message counter is set right after the
//! chat is numbered, so while it exists the chat does; when it is missing the chat's
//! existence is read from its application's counter before it is seeded.

pub(crate) mod batch;
pub(crate) mod conn;
pub(crate) mod live;
pub(crate) mod nodes;
pub(crate) mod queue;
pub(crate) mod transfer;

use std::fmt;

use redis::aio::ConnectionLike;
use redis::{
    Cmd, ErrorKind, FromRedisValue, ParsingError, RedisResult, RedisWrite, Script, ServerErrorKind,
    ToRedisArgs, ToSingleRedisArg, Value,
};

/// The most queue shards.
pub const MAX_SHARDS: u16 = 1024;

/// Key names under one prefix, for S shards.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    /// Shard k's hash tag.
    tags: Vec<String>,
    /// Shard k's cluster slot: that of every key tagged with it (the prefix included).
    slots: Vec<u16>,
}

/// One key: written straight into a command's buffer (no string of its own), or shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'a> {
    prefix: &'a str,
    name: &'static str,
    tag: Option<&'a str>,
    app: Option<i64>,
    chat: Option<u32>,
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix)?;
        f.write_str(self.name)?;
        if let Some(tag) = self.tag {
            write!(f, ":{{{tag}}}")?;
        }
        if let Some(app) = self.app {
            write!(f, ":{app}")?;
        }
        if let Some(chat) = self.chat {
            write!(f, ":{chat}")?;
        }
        Ok(())
    }
}

impl ToRedisArgs for Key<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        out.write_arg_fmt(self);
    }
}

impl ToSingleRedisArg for Key<'_> {}

/// A fixed 64-bit mix (the finalizer of SplitMix64): a shard must never change for a key.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Shard k's hash tag: `k.i` with the first i whose slot lies in the k-th S-th of the slots.
fn tag(k: usize, shards: usize) -> String {
    let (from, to) = (k * 16384 / shards, (k + 1) * 16384 / shards);
    (0u32..)
        .map(|i| format!("{k}.{i}"))
        .find(|t| (from..to).contains(&usize::from(conn::slot(t.as_bytes()))))
        .unwrap_or_else(|| k.to_string())
}

impl Keys {
    /// Keys under `prefix` for `shards` shards (at least 1).
    pub(crate) fn new(prefix: &str, shards: u16) -> Self {
        let shards = usize::from(shards.clamp(1, MAX_SHARDS));
        let mut keys = Keys {
            prefix: prefix.to_owned(),
            tags: (0..shards).map(|k| tag(k, shards)).collect(),
            slots: Vec::new(),
        };
        keys.slots = (0..shards)
            .map(|k| conn::slot(keys.stream(k).to_string().as_bytes()))
            .collect();
        keys
    }

    /// The cluster slot of shard k's keys (a chat's, an application's, its stream).
    pub(crate) fn shard_slot(&self, shard: usize) -> u16 {
        self.slots.get(shard).copied().unwrap_or(0)
    }

    /// S.
    pub(crate) fn shards(&self) -> usize {
        self.tags.len()
    }

    /// The shard of an application's keys and of its chat and delete jobs.
    pub(crate) fn app_shard(&self, app: i64) -> usize {
        (mix(app as u64 ^ 0x5a5a_0000_0000_0000) % self.tags.len() as u64) as usize
    }

    /// The shard of a chat's keys and of its message jobs.
    pub(crate) fn chat_shard(&self, app: i64, chat: u32) -> usize {
        (mix((app as u64).rotate_left(32) ^ u64::from(chat)) % self.tags.len() as u64) as usize
    }

    /// The shard a job is queued in.
    pub(crate) fn job_shard(&self, job: &crate::store::distributed::mysql::Job) -> usize {
        use crate::store::distributed::mysql::Job;
        match job {
            Job::Chat { app, .. } | Job::DeleteApp { app } => self.app_shard(*app),
            Job::Message { app, chat, .. }
            | Job::DeleteMessage { app, chat, .. }
            | Job::DeleteChat { app, chat } => self.chat_shard(*app, *chat),
        }
    }

    fn key(
        &self,
        name: &'static str,
        shard: Option<usize>,
        app: Option<i64>,
        chat: Option<u32>,
    ) -> Key<'_> {
        Key {
            prefix: &self.prefix,
            name,
            tag: shard.map(|k| self.tags[k % self.tags.len()].as_str()),
            app,
            chat,
        }
    }

    fn app_key(&self, name: &'static str, app: i64) -> Key<'_> {
        self.key(name, Some(self.app_shard(app)), Some(app), None)
    }

    fn chat_key(&self, name: &'static str, app: i64, chat: u32) -> Key<'_> {
        self.key(
            name,
            Some(self.chat_shard(app, chat)),
            Some(app),
            Some(chat),
        )
    }

    pub(crate) fn chat_counter(&self, app: i64) -> Key<'_> {
        self.app_key("cc", app)
    }

    pub(crate) fn message_counter(&self, app: i64, chat: u32) -> Key<'_> {
        self.chat_key("mc", app, chat)
    }

    pub(crate) fn pending_chats(&self, app: i64) -> Key<'_> {
        self.app_key("pc", app)
    }

    pub(crate) fn pending_messages(&self, app: i64, chat: u32) -> Key<'_> {
        self.chat_key("pm", app, chat)
    }

    /// Shard k's stream.
    pub(crate) fn stream(&self, shard: usize) -> Key<'_> {
        self.key("q", Some(shard), None, None)
    }

    /// Shard k's dead-letter stream.
    pub(crate) fn dead(&self, shard: usize) -> Key<'_> {
        self.key("dead", Some(shard), None, None)
    }

    /// Shard k's last errors of failed entries.
    pub(crate) fn errors(&self, shard: usize) -> Key<'_> {
        self.key("err", Some(shard), None, None)
    }

    /// Where the first process recorded S.
    pub(crate) fn shard_count(&self) -> Key<'_> {
        self.key("shards", None, None, None)
    }

    /// Documents persisted but not yet in the search index (the engine was down), as JSON.
    pub(crate) fn unindexed(&self) -> Key<'_> {
        self.key("unindexed", None, None, None)
    }

    /// The index a full reindex is building; workers write to it too while it is set.
    pub(crate) fn reindex_target(&self) -> Key<'_> {
        self.key("reindex-target", None, None, None)
    }

    /// Held by the process running this interval's periodic recount.
    pub(crate) fn recount_lock(&self) -> Key<'_> {
        self.key("recount-lock", None, None, None)
    }

    /// The Pub/Sub channel of a chat's creations and edits.
    pub(crate) fn live(&self, app: i64, chat: u32) -> Key<'_> {
        self.chat_key("live", app, chat)
    }

    /// Set when the application is deleted.
    pub(crate) fn deleted_app(&self, app: i64) -> Key<'_> {
        self.app_key("xa", app)
    }

    /// The application's deleted chat numbers.
    pub(crate) fn deleted_chats(&self, app: i64) -> Key<'_> {
        self.app_key("xc", app)
    }

    /// Set when the chat is deleted (in the chat's slot, for its scripts).
    pub(crate) fn chat_deleted(&self, app: i64, chat: u32) -> Key<'_> {
        self.chat_key("xd", app, chat)
    }

    /// The chat's deleted message numbers.
    pub(crate) fn deleted_messages(&self, app: i64, chat: u32) -> Key<'_> {
        self.chat_key("xm", app, chat)
    }
}

/// The consumer group of the workers.
pub(crate) const GROUP: &str = "workers";

/// A Lua script, run with `EVALSHA` (loaded again when Redis answers that it lost it).
pub(crate) struct Lua(Script);

impl Lua {
    fn new(source: &str) -> Self {
        Lua(Script::new(source))
    }

    /// `EVALSHA <sha> <keys>`: add the keys, then the arguments.
    pub(crate) fn command(&self, keys: usize) -> Cmd {
        let mut cmd = Cmd::with_capacity(16, 512);
        cmd.arg("EVALSHA").arg(self.0.get_hash()).arg(keys);
        cmd
    }

    /// Whether an error says that Redis does not have the script (it restarted or was
    /// flushed): [`Lua::run`] loads it again.
    pub(crate) fn lost(e: &redis::RedisError) -> bool {
        e.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
    }

    /// Runs a command made by [`Lua::command`] and then `WAIT` for `ack`'s replicas on the
    /// same node; its answer, and whether they acknowledged it (true when none are asked for).
    pub(crate) async fn run_acked<T: FromRedisValue>(
        &self,
        cmd: &Cmd,
        conn: &conn::Conn,
        ack: batch::Ack,
    ) -> RedisResult<(T, bool)> {
        let Some((replicas, timeout)) = ack else {
            return Ok((self.run(cmd, &mut conn.clone()).await?, true));
        };
        let (value, acked) = match conn.query_acked(cmd, replicas, timeout).await {
            Err(e) if Lua::lost(&e) => {
                self.0.load_async(&mut conn.clone()).await?;
                conn.query_acked(cmd, replicas, timeout).await?
            }
            other => other?,
        };
        Ok((T::from_redis_value(value)?, acked >= i64::from(replicas)))
    }

    /// Runs a command made by [`Lua::command`].
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        cmd: &Cmd,
        conn: &mut (impl ConnectionLike + Send),
    ) -> RedisResult<T> {
        match cmd.query_async(conn).await {
            Err(e) if Lua::lost(&e) => {
                self.0.load_async(conn).await?;
                cmd.query_async(conn).await
            }
            other => other,
        }
    }
}

/// The scripts, loaded from the `lua/` files.
pub(crate) struct Scripts {
    pub create_chat: Lua,
    pub create_message: Lua,
    pub edit_message: Lua,
    pub delete_message: Lua,
    pub delete_chat: Lua,
    pub delete_app: Lua,
    pub pending_max: Lua,
    pub seed: Lua,
    pub finish: Lua,
    pub retry_dead: Lua,
    pub queue_status: Lua,
    pub mine: Lua,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Scripts {
            create_chat: Lua::new(include_str!("lua/create_chat.lua")),
            create_message: Lua::new(include_str!("lua/create_message.lua")),
            edit_message: Lua::new(include_str!("lua/edit_message.lua")),
            delete_message: Lua::new(include_str!("lua/delete_message.lua")),
            delete_chat: Lua::new(include_str!("lua/delete_chat.lua")),
            delete_app: Lua::new(include_str!("lua/delete_app.lua")),
            pending_max: Lua::new(include_str!("lua/pending_max.lua")),
            seed: Lua::new(include_str!("lua/seed.lua")),
            finish: Lua::new(include_str!("lua/finish.lua")),
            retry_dead: Lua::new(include_str!("lua/retry_dead.lua")),
            queue_status: Lua::new(include_str!("lua/queue_status.lua")),
            mine: Lua::new(include_str!("lua/mine.lua")),
        }
    }
}

/// The status codes the numbering scripts answer instead of a result (the scripts' integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub(crate) enum Code {
    /// No such chat.
    NoChat = 0,
    /// The application's chat counter is missing: seed it, then retry.
    SeedChats = -1,
    /// The chat's message counter is missing: seed it, then retry.
    SeedMessages = -2,
    /// The edit needs the message's creation time from the database.
    NeedCreatedAt = -3,
    /// No such message.
    NoMessage = -4,
    /// The application is deleted.
    NoApp = -5,
}

impl Code {
    const ALL: [Code; 6] = [
        Code::NoChat,
        Code::SeedChats,
        Code::SeedMessages,
        Code::NeedCreatedAt,
        Code::NoMessage,
        Code::NoApp,
    ];

    fn of(v: &Value) -> Option<Code> {
        match v {
            Value::Int(n) => Code::ALL.into_iter().find(|c| *c as i64 == *n),
            _ => None,
        }
    }
}

fn bad_reply(script: &str, v: &Value) -> ParsingError {
    ParsingError::from(format!("unexpected reply of {script}: {v:?}"))
}

/// A number handed out: a positive integer.
fn number(v: &Value) -> Option<u32> {
    match v {
        Value::Int(n) if *n > 0 => u32::try_from(*n).ok(),
        _ => None,
    }
}

/// What `create_chat.lua` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatCreated {
    /// The chat's number.
    Numbered(u32),
    /// The chat counter is missing: seed it, then retry.
    SeedChats,
    /// The application is deleted.
    NoApp,
}

impl FromRedisValue for ChatCreated {
    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        match (number(&v), Code::of(&v)) {
            (Some(n), _) => Ok(ChatCreated::Numbered(n)),
            (None, Some(Code::SeedChats)) => Ok(ChatCreated::SeedChats),
            (None, Some(Code::NoApp)) => Ok(ChatCreated::NoApp),
            _ => Err(bad_reply("create_chat", &v)),
        }
    }
}

/// What `create_message.lua` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageCreated {
    /// The message's number.
    Numbered(u32),
    /// The message counter is missing: check that the chat exists, seed it, then retry.
    SeedMessages,
    /// The chat is deleted.
    NoChat,
}

impl FromRedisValue for MessageCreated {
    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        match (number(&v), Code::of(&v)) {
            (Some(n), _) => Ok(MessageCreated::Numbered(n)),
            (None, Some(Code::SeedMessages)) => Ok(MessageCreated::SeedMessages),
            (None, Some(Code::NoChat)) => Ok(MessageCreated::NoChat),
            _ => Err(bad_reply("create_message", &v)),
        }
    }
}

/// What `edit_message.lua` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageEdited {
    /// Queued; the message's creation time (µs).
    Edited { created_at: i64 },
    /// The message counter is missing: check that the chat exists, seed it, then retry.
    SeedMessages,
    /// The chat is deleted.
    NoChat,
    /// No such message.
    NoMessage,
    /// The message is persisted: retry with its creation time from the database.
    NeedCreatedAt,
}

impl FromRedisValue for MessageEdited {
    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        if let Value::BulkString(b) = &v {
            return std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(|created_at| MessageEdited::Edited { created_at })
                .ok_or_else(|| bad_reply("edit_message", &v));
        }
        match Code::of(&v) {
            Some(Code::SeedMessages) => Ok(MessageEdited::SeedMessages),
            Some(Code::NoChat) => Ok(MessageEdited::NoChat),
            Some(Code::NoMessage) => Ok(MessageEdited::NoMessage),
            Some(Code::NeedCreatedAt) => Ok(MessageEdited::NeedCreatedAt),
            _ => Err(bad_reply("edit_message", &v)),
        }
    }
}

/// What the delete scripts (`delete_message.lua`, `delete_chat.lua`, `delete_app.lua`)
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deleted {
    /// Deleted, and the delete's job queued.
    Done,
    /// Deleted already (`delete_chat.lua`: its application's set may still lack it).
    Already,
    /// The chat counter is missing: seed it, then retry.
    SeedChats,
    /// The message counter is missing: seed it, then retry.
    SeedMessages,
    /// No such application (or deleted already).
    NoApp,
    /// No such chat (or deleted already).
    NoChat,
    /// No such message (or deleted already).
    NoMessage,
}

impl FromRedisValue for Deleted {
    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        match (&v, Code::of(&v)) {
            (Value::Int(1), _) => Ok(Deleted::Done),
            (Value::Int(2), _) => Ok(Deleted::Already),
            (_, Some(Code::SeedChats)) => Ok(Deleted::SeedChats),
            (_, Some(Code::SeedMessages)) => Ok(Deleted::SeedMessages),
            (_, Some(Code::NoApp)) => Ok(Deleted::NoApp),
            (_, Some(Code::NoChat)) => Ok(Deleted::NoChat),
            (_, Some(Code::NoMessage)) => Ok(Deleted::NoMessage),
            _ => Err(bad_reply("a delete script", &v)),
        }
    }
}

/// A JSON string argument (with its quotes), escaped straight into a command's buffer.
pub(crate) struct JsonString<'a>(pub &'a str);

impl ToRedisArgs for JsonString<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut w = out.writer_for_next_arg();
        // Writing a string into a buffer cannot fail.
        let _ = serde_json::to_writer(&mut w, self.0);
    }
}

#[cfg(test)]
mod tests;
