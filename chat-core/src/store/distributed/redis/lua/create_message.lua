-- Numbers a new message, queues its job, records it as pending and publishes it to the chat's
-- live channel, in one step (so every subscriber sees a chat's creations in number order). All
-- its keys are in the chat's slot.
-- KEYS: message counter, the chat's shard stream, pending messages, the chat's deleted marker.
-- ARGV: the job's JSON up to its number (`…,"n":`); the pending record's JSON after its entry
--       id (`","c":…}`); the live channel; the publish command (PUBLISH, or SPUBLISH on a
--       cluster).
-- Returns the message's number; 0 when the chat is deleted; -2 (seed the message counter, once
-- sure the chat exists) when the counter is missing. The counter is set when its chat is
-- created, so while it exists the chat does.
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
if not redis.call('GET', KEYS[1]) then return -2 end
local n = redis.call('INCR', KEYS[1])
local job = ARGV[1] .. n .. '}'
local id = redis.call('XADD', KEYS[2], '*', 'j', job)
redis.call('HSET', KEYS[3], n, '{"e":"' .. id .. ARGV[2])
redis.call(ARGV[4], ARGV[3], job)
return n
