//! The Redis side of the distributed profile: key names, and the Lua scripts (the `lua/*.lua`
//! files) that number, enqueue and record a pending write in one round trip, with the replies
//! they give as Rust types.
//!
//! Per application `a` and chat `c`, under a configurable prefix:
//!
//! | key          | type   | holds                                                        |
//! |--------------|--------|--------------------------------------------------------------|
//! | `cc:a`       | string | the last chat number handed out (chat N exists iff N ≤ it)   |
//! | `mc:a:c`     | string | the last message number of chat `c`                          |
//! | `pc:a`       | hash   | chat number → pending record, until a worker persisted it    |
//! | `pm:a:c`     | hash   | message number → pending record (creation or latest edit)    |
//! | `q`          | stream | the jobs, one field `j` (JSON); consumer group `workers`     |
//! | `dead`       | stream | jobs that failed too often, with their last error            |
//! | `err`        | hash   | entry id → last error of a job that failed                   |
//! | `live:a:c`   | channel| Pub/Sub: each creation, edit and deletion of chat `c`, as its job JSON |
//! | `xa:a`       | string | set when application `a` is deleted (its deletion time)       |
//! | `xc:a`       | set    | the deleted chat numbers of application `a`                   |
//! | `xm:a:c`     | set    | the deleted message numbers of chat `c`                       |
//!
//! Deletes are tombstones: a delete script checks that the thing exists, adds it to its
//! deleted set (or sets the application's marker) and queues a delete job, in one step. The
//! tombstones are kept for good: every script and read path consults them (a deleted number is
//! below its counter but exists no more), counts are the counters less the sizes of the deleted
//! sets (exact at once, and numbers are never handed out again since counters never move back),
//! and the worker never persists or indexes anything a tombstone covers, so a create retried
//! after the delete that follows it cannot bring it back. The delete job, queued after every job
//! of what it deletes, removes the rows from MySQL and the documents from the search index.
//!
//! A pending record is JSON that starts with the entry id `e` of the job that wrote it, so a
//! worker drops it only if no later job (an edit) replaced it, and can tell without decoding it.
//! The JSON of jobs and records is put together by the caller (the body escaped once, in the API
//! process) and only completed by the script with what it alone knows: the number, the entry id. Counters never move backwards; when one is
//! missing (Redis lost its data) it is seeded by [`SEED`] with SET-if-absent, from the highest
//! of the database's maximum and the numbers still pending, so racing servers agree. The
//! scripts build the `mc:` key of a new chat from a prefix argument, so they assume one Redis
//! (or a cluster slot per prefix), not a sharded cluster. A chat's message counter is set when
//! the chat is created, so while it exists the chat does: a message script reads the chat
//! counter only when the message counter is missing.

pub(crate) mod batch;
pub(crate) mod live;
pub(crate) mod queue;

use std::fmt;

use redis::aio::ConnectionLike;
use redis::{
    Cmd, ErrorKind, FromRedisValue, ParsingError, RedisResult, RedisWrite, Script, ServerErrorKind,
    ToRedisArgs, ToSingleRedisArg, Value,
};

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

/// One key: written straight into a command's buffer (no string of its own), or shown.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'a> {
    prefix: &'a str,
    name: &'static str,
    app: Option<i64>,
    chat: Option<u32>,
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix)?;
        f.write_str(self.name)?;
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

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, name: &'static str, app: Option<i64>, chat: Option<u32>) -> Key<'_> {
        Key {
            prefix: &self.prefix,
            name,
            app,
            chat,
        }
    }

    pub(crate) fn chat_counter(&self, app: i64) -> Key<'_> {
        self.key("cc", Some(app), None)
    }

    /// The message counters of an application's chats are this followed by the chat's number.
    pub(crate) fn message_counter_prefix(&self, app: i64) -> String {
        format!("{}mc:{app}:", self.prefix)
    }

    pub(crate) fn message_counter(&self, app: i64, chat: u32) -> Key<'_> {
        self.key("mc", Some(app), Some(chat))
    }

    pub(crate) fn pending_chats(&self, app: i64) -> Key<'_> {
        self.key("pc", Some(app), None)
    }

    pub(crate) fn pending_messages(&self, app: i64, chat: u32) -> Key<'_> {
        self.key("pm", Some(app), Some(chat))
    }

    pub(crate) fn stream(&self) -> Key<'_> {
        self.key("q", None, None)
    }

    pub(crate) fn dead(&self) -> Key<'_> {
        self.key("dead", None, None)
    }

    /// Documents persisted but not yet in the search index (the engine was down), as JSON.
    pub(crate) fn unindexed(&self) -> Key<'_> {
        self.key("unindexed", None, None)
    }

    /// The index a full reindex is building; workers write to it too while it is set.
    pub(crate) fn reindex_target(&self) -> Key<'_> {
        self.key("reindex-target", None, None)
    }

    /// Held by the process running this interval's periodic recount.
    pub(crate) fn recount_lock(&self) -> Key<'_> {
        self.key("recount-lock", None, None)
    }

    /// The Pub/Sub channel of a chat's creations and edits.
    pub(crate) fn live(&self, app: i64, chat: u32) -> Key<'_> {
        self.key("live", Some(app), Some(chat))
    }

    /// Set when the application is deleted.
    pub(crate) fn deleted_app(&self, app: i64) -> Key<'_> {
        self.key("xa", Some(app), None)
    }

    /// The application's deleted chat numbers.
    pub(crate) fn deleted_chats(&self, app: i64) -> Key<'_> {
        self.key("xc", Some(app), None)
    }

    /// The chat's deleted message numbers.
    pub(crate) fn deleted_messages(&self, app: i64, chat: u32) -> Key<'_> {
        self.key("xm", Some(app), Some(chat))
    }

    pub(crate) fn errors(&self) -> Key<'_> {
        self.key("err", None, None)
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
    /// The chat counter is missing: seed it, then retry.
    SeedChats,
    /// The message counter is missing: seed it, then retry.
    SeedMessages,
    /// No such chat.
    NoChat,
    /// The application is deleted.
    NoApp,
}

impl FromRedisValue for MessageCreated {
    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        match (number(&v), Code::of(&v)) {
            (Some(n), _) => Ok(MessageCreated::Numbered(n)),
            (None, Some(Code::SeedChats)) => Ok(MessageCreated::SeedChats),
            (None, Some(Code::SeedMessages)) => Ok(MessageCreated::SeedMessages),
            (None, Some(Code::NoChat)) => Ok(MessageCreated::NoChat),
            (None, Some(Code::NoApp)) => Ok(MessageCreated::NoApp),
            _ => Err(bad_reply("create_message", &v)),
        }
    }
}

/// What `edit_message.lua` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageEdited {
    /// Queued; the message's creation time (µs).
    Edited { created_at: i64 },
    /// The chat counter is missing: seed it, then retry.
    SeedChats,
    /// The message counter is missing: seed it, then retry.
    SeedMessages,
    /// No such chat.
    NoChat,
    /// No such message.
    NoMessage,
    /// The message is persisted: retry with its creation time from the database.
    NeedCreatedAt,
    /// The application is deleted.
    NoApp,
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
            Some(Code::SeedChats) => Ok(MessageEdited::SeedChats),
            Some(Code::SeedMessages) => Ok(MessageEdited::SeedMessages),
            Some(Code::NoChat) => Ok(MessageEdited::NoChat),
            Some(Code::NoMessage) => Ok(MessageEdited::NoMessage),
            Some(Code::NeedCreatedAt) => Ok(MessageEdited::NeedCreatedAt),
            Some(Code::NoApp) => Ok(MessageEdited::NoApp),
            None => Err(bad_reply("edit_message", &v)),
        }
    }
}

/// What the delete scripts (`delete_message.lua`, `delete_chat.lua`, `delete_app.lua`)
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deleted {
    /// Deleted, and the delete's job queued.
    Done,
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
mod tests {
    use super::*;

    #[test]
    fn keys_are_written_as_shown() {
        let keys = Keys::new("p:");
        assert_eq!(keys.message_counter(7, 3).to_string(), "p:mc:7:3");
        assert_eq!(keys.chat_counter(7).to_string(), "p:cc:7");
        assert_eq!(keys.stream().to_string(), "p:q");
        assert_eq!(keys.message_counter_prefix(7), "p:mc:7:");
        assert_eq!(keys.deleted_messages(7, 3).to_string(), "p:xm:7:3");
        assert_eq!(keys.deleted_app(7).to_string(), "p:xa:7");
        let mut cmd = redis::cmd("GET");
        cmd.arg(keys.pending_messages(7, 3)).arg(JsonString("a\"b"));
        let packed = String::from_utf8(cmd.get_packed_command()).unwrap();
        assert!(packed.contains("$8\r\np:pm:7:3\r\n"), "{packed:?}");
        assert!(packed.contains("$6\r\n\"a\\\"b\"\r\n"), "{packed:?}");
    }

    #[test]
    fn replies_are_typed() {
        let int = |n| Value::Int(n);
        assert_eq!(
            MessageCreated::from_redis_value(int(12)).unwrap(),
            MessageCreated::Numbered(12)
        );
        assert_eq!(
            MessageCreated::from_redis_value(int(0)).unwrap(),
            MessageCreated::NoChat
        );
        assert_eq!(
            MessageCreated::from_redis_value(int(-2)).unwrap(),
            MessageCreated::SeedMessages
        );
        assert!(MessageCreated::from_redis_value(int(-3)).is_err());
        assert!(MessageCreated::from_redis_value(Value::Nil).is_err());
        assert_eq!(
            ChatCreated::from_redis_value(int(-1)).unwrap(),
            ChatCreated::SeedChats
        );
        assert!(ChatCreated::from_redis_value(int(0)).is_err());
        assert!(ChatCreated::from_redis_value(int(i64::from(u32::MAX) + 1)).is_err());
        assert_eq!(
            MessageEdited::from_redis_value(Value::BulkString(b"1790000000123456".to_vec()))
                .unwrap(),
            MessageEdited::Edited {
                created_at: 1_790_000_000_123_456
            }
        );
        assert_eq!(
            MessageEdited::from_redis_value(int(-3)).unwrap(),
            MessageEdited::NeedCreatedAt
        );
        assert!(MessageEdited::from_redis_value(Value::BulkString(b"x".to_vec())).is_err());
        assert!(MessageEdited::from_redis_value(int(5)).is_err());
        assert_eq!(Deleted::from_redis_value(int(1)).unwrap(), Deleted::Done);
        assert_eq!(Deleted::from_redis_value(int(-5)).unwrap(), Deleted::NoApp);
        assert_eq!(
            Deleted::from_redis_value(int(-4)).unwrap(),
            Deleted::NoMessage
        );
        assert!(Deleted::from_redis_value(int(-3)).is_err());
        assert!(Deleted::from_redis_value(int(2)).is_err());
    }
}
