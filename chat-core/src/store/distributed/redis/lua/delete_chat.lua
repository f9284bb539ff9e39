-- Deletes a chat in its own slot: sets its deleted marker (consulted by the chat's scripts and
-- reads, and by the worker, which never persists anything of a deleted chat), queues the
-- delete's job in the chat's stream (after the chat's message jobs) and publishes it on the
-- chat's live channel (its followers' streams end), in one step. The caller then adds the
-- number to the application's deleted set, which counts and lists read.
-- KEYS: message counter, the chat's shard stream, the chat's deleted marker.
-- ARGV: chat number, app id, now (µs), the chat's live channel, the publish command.
-- Returns 1, or 2 (deleted already), or -2 (the message counter is missing: the caller checks
-- that the chat exists and seeds it).
if redis.call('EXISTS', KEYS[3]) == 1 then return 2 end
if not redis.call('GET', KEYS[1]) then return -2 end
redis.call('SET', KEYS[3], ARGV[3])
local job = '{"k":"dc","a":"' .. ARGV[2] .. '","c":' .. ARGV[1] .. ',"t":"' .. ARGV[3] .. '"}'
redis.call('XADD', KEYS[2], '*', 'j', job)
redis.call(ARGV[5], ARGV[4], job)
return 1
