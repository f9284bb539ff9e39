//! The Redis side of the distributed profile: key names and the Lua scripts that number,
//! enqueue and record a pending write in one round trip.
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
//! | `live:a:c`   | channel| Pub/Sub: each creation and edit of chat `c`, as its job JSON  |
//!
//! A pending record is JSON with the entry id `e` of the job that wrote it, so a worker drops
//! it only if no later job (an edit) replaced it. Counters never move backwards; when one is
//! missing (Redis lost its data) it is seeded by [`SEED`] with SET-if-absent, from the highest
//! of the database's maximum and the numbers still pending, so racing servers agree. The
//! scripts build the `mc:` key of a new chat from a prefix argument, so they assume one Redis
//! (or a cluster slot per prefix), not a sharded cluster.

pub(crate) mod live;
pub(crate) mod queue;

use redis::Script;

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    pub(crate) fn chat_counter(&self, app: i64) -> String {
        format!("{}cc:{app}", self.prefix)
    }

    pub(crate) fn message_counter_prefix(&self, app: i64) -> String {
        format!("{}mc:{app}:", self.prefix)
    }

    pub(crate) fn message_counter(&self, app: i64, chat: u32) -> String {
        format!("{}mc:{app}:{chat}", self.prefix)
    }

    pub(crate) fn pending_chats(&self, app: i64) -> String {
        format!("{}pc:{app}", self.prefix)
    }

    pub(crate) fn pending_messages(&self, app: i64, chat: u32) -> String {
        format!("{}pm:{app}:{chat}", self.prefix)
    }

    /// `script` with the five keys the message scripts (create and edit) take, in their order:
    /// chat counter, message counter, stream, pending messages, pending chats.
    pub(crate) fn message_script<'a>(
        &self,
        script: &'a Script,
        app: i64,
        chat: u32,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.key(self.chat_counter(app));
        invocation
            .key(self.message_counter(app, chat))
            .key(self.stream())
            .key(self.pending_messages(app, chat))
            .key(self.pending_chats(app));
        invocation
    }

    pub(crate) fn stream(&self) -> String {
        format!("{}q", self.prefix)
    }

    pub(crate) fn dead(&self) -> String {
        format!("{}dead", self.prefix)
    }

    /// Documents persisted but not yet in the search index (the engine was down), as JSON.
    pub(crate) fn unindexed(&self) -> String {
        format!("{}unindexed", self.prefix)
    }

    /// The index a full reindex is building; workers write to it too while it is set.
    pub(crate) fn reindex_target(&self) -> String {
        format!("{}reindex-target", self.prefix)
    }

    /// Held by the process running this interval's periodic recount.
    pub(crate) fn recount_lock(&self) -> String {
        format!("{}recount-lock", self.prefix)
    }

    /// The Pub/Sub channel of a chat's creations and edits.
    pub(crate) fn live(&self, app: i64, chat: u32) -> String {
        format!("{}live:{app}:{chat}", self.prefix)
    }

    pub(crate) fn errors(&self) -> String {
        format!("{}err", self.prefix)
    }
}

/// The consumer group of the workers.
pub(crate) const GROUP: &str = "workers";

/// Status codes the scripts return as the first element of `{code, text}`.
pub(crate) mod code {
    /// The application's chat counter is missing: seed it, then retry.
    pub const SEED_CHATS: i64 = -1;
    /// The chat's message counter is missing: seed it, then retry.
    pub const SEED_MESSAGES: i64 = -2;
    /// The edit needs the message's creation time from the database.
    pub const NEED_CREATED_AT: i64 = -3;
    /// No such message.
    pub const NO_MESSAGE: i64 = -4;
    /// No such chat.
    pub const NO_CHAT: i64 = 0;
}

/// KEYS: chat counter, stream, pending chats. ARGV: app id, now (µs), message counter prefix.
/// Returns `{number, entry id}`.
pub(crate) fn create_chat() -> Script {
    Script::new(
        r#"
local last = redis.call('GET', KEYS[1])
if not last then return {-1, ''} end
local n = redis.call('INCR', KEYS[1])
redis.call('SET', ARGV[3] .. n, 0, 'NX')
local id = redis.call('XADD', KEYS[2], '*', 'j',
  cjson.encode({k = 'c', a = ARGV[1], c = n, t = ARGV[2]}))
redis.call('HSET', KEYS[3], n, cjson.encode({c = ARGV[2], e = id}))
return {n, id}
"#,
    )
}

/// KEYS: chat counter, message counter, stream, pending messages, pending chats.
/// ARGV: app id, chat, body, now (µs), live channel. Returns `{number, entry id}`.
/// The job is published to the chat's live channel inside the script, so every subscriber
/// sees a chat's creations in number order.
pub(crate) fn create_message() -> Script {
    Script::new(
        r#"
local chats = redis.call('GET', KEYS[1])
if not chats then return {-1, ''} end
if tonumber(ARGV[2]) > tonumber(chats) then return {0, ''} end
if not redis.call('GET', KEYS[2]) then return {-2, ''} end
local n = redis.call('INCR', KEYS[2])
local job = {k = 'm', a = ARGV[1], c = tonumber(ARGV[2]), n = n, b = ARGV[3], t = ARGV[4], u = ARGV[4]}
local chat = redis.call('HGET', KEYS[5], ARGV[2])
if chat then job.ca = cjson.decode(chat).c end
local j = cjson.encode(job)
local id = redis.call('XADD', KEYS[3], '*', 'j', j)
redis.call('HSET', KEYS[4], n, cjson.encode({b = ARGV[3], c = ARGV[4], u = ARGV[4], e = id}))
redis.call('PUBLISH', ARGV[5], j)
return {n, id}
"#,
    )
}

/// KEYS: chat counter, message counter, stream, pending messages, pending chats.
/// ARGV: app id, chat, number, body, now (µs), creation time (µs) or `''` when unknown, live
/// channel. Returns `{1, creation time}`.
pub(crate) fn edit_message() -> Script {
    Script::new(
        r#"
local chats = redis.call('GET', KEYS[1])
if not chats then return {-1, ''} end
if tonumber(ARGV[2]) > tonumber(chats) then return {0, ''} end
local last = redis.call('GET', KEYS[2])
if not last then return {-2, ''} end
if tonumber(ARGV[3]) > tonumber(last) then return {-4, ''} end
local created = ARGV[6]
local rec = redis.call('HGET', KEYS[4], ARGV[3])
if rec then created = cjson.decode(rec).c end
if created == '' then return {-3, ''} end
local job = {k = 'e', a = ARGV[1], c = tonumber(ARGV[2]), n = tonumber(ARGV[3]), b = ARGV[4],
  t = created, u = ARGV[5]}
local chat = redis.call('HGET', KEYS[5], ARGV[2])
if chat then job.ca = cjson.decode(chat).c end
local j = cjson.encode(job)
local id = redis.call('XADD', KEYS[3], '*', 'j', j)
redis.call('HSET', KEYS[4], ARGV[3], cjson.encode({b = ARGV[4], c = created, u = ARGV[5], e = id}))
redis.call('PUBLISH', ARGV[7], j)
return {1, created}
"#,
    )
}

/// KEYS: a pending hash. Returns its highest number (0 when empty).
pub(crate) fn pending_max() -> Script {
    Script::new(
        r#"
local m = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local v = tonumber(f)
  if v and v > m then m = v end
end
return m
"#,
    )
}

/// KEYS: a counter, its pending hash. ARGV: the pending maximum seen before reading the
/// database, the database's maximum. Sets the counter if it is still missing; returns it.
pub(crate) fn seed() -> Script {
    Script::new(
        r#"
local m = math.max(tonumber(ARGV[1]), tonumber(ARGV[2]))
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
  local v = tonumber(f)
  if v and v > m then m = v end
end
redis.call('SET', KEYS[1], m, 'NX')
return tonumber(redis.call('GET', KEYS[1]))
"#,
    )
}

/// KEYS: the stream. ARGV: the group, then triples (pending hash, field, entry id).
/// Acknowledges and deletes each entry, and drops each pending record still written by it.
pub(crate) fn finish() -> Script {
    Script::new(
        r#"
for i = 2, #ARGV, 3 do
  local rec = redis.call('HGET', ARGV[i], ARGV[i + 1])
  if rec and cjson.decode(rec).e == ARGV[i + 2] then
    redis.call('HDEL', ARGV[i], ARGV[i + 1])
  end
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i + 2])
  redis.call('XDEL', KEYS[1], ARGV[i + 2])
end
return 1
"#,
    )
}
