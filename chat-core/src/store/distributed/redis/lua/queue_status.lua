-- The queue's state in one round trip. A group not created yet (no worker has started, or Redis
-- lost it) holds nothing.
-- KEYS: a shard's stream, its dead-letter stream. ARGV: the group.
-- Returns {stream length, entries held by workers, dead-letter length, oldest entry id ('' when
-- none), server time in seconds, and its microseconds}.
local depth = redis.call('XLEN', KEYS[1])
local pending = 0
local ok, summary = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1])
if ok then pending = summary[1] end
local dead = redis.call('XLEN', KEYS[2])
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
local oldest = ''
if #first > 0 then oldest = first[1][1] end
local now = redis.call('TIME')
return {depth, pending, dead, oldest, now[1], now[2]}
