-- Deletes a message: adds its number to the chat's deleted set (every read and script, and the
-- worker, which never persists a deleted message, consult it), queues the delete's job (after
-- every job of the message, so the worker applies it after them) and publishes it to the chat's
-- live channel, in one step. The count is the message counter less the deleted set's size, so
-- it drops at once; numbers are never handed out again (the counter does not move back).
-- KEYS: message counter, the chat's shard stream, the chat's deleted marker, deleted messages.
-- ARGV: chat number, message number, app id, now (µs), the live channel, the publish command.
-- Returns 1, or a code: 0 (the chat is deleted), -2 (seed the message counter, once sure the
-- chat exists), -4 (no such message).
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local last = redis.call('GET', KEYS[1])
if not last then return -2 end
if tonumber(ARGV[2]) > tonumber(last) then return -4 end
if redis.call('SADD', KEYS[4], ARGV[2]) == 0 then return -4 end
local job = '{"k":"dm","a":"' .. ARGV[3] .. '","c":' .. ARGV[1] .. ',"n":' .. ARGV[2] ..
  ',"t":"' .. ARGV[4] .. '"}'
redis.call('XADD', KEYS[2], '*', 'j', job)
redis.call(ARGV[6], ARGV[5], job)
return 1
