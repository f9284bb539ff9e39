-- Numbers a new message, queues its job, records it as pending and publishes it to the chat's
-- live channel, in one step (so every subscriber sees a chat's creations in number order).
-- KEYS: message counter, stream, pending messages, chat counter, deleted-application marker,
--       deleted chats.
-- ARGV: chat number; the job's JSON up to its number (`…,"n":`); the pending record's JSON
--       after its entry id (`","c":…}`); the live channel.
-- Returns the message's number, or when the message counter is missing: -1 (seed the chat
-- counter) when the chat counter is missing too, 0 when there is no such chat, -2 (seed the
-- message counter) otherwise. The counter is set when its chat is created, so while it exists
-- the chat does (unless it is in the deleted set) and the chat counter need not be read. A
-- deleted application answers -5, a deleted chat 0.
if redis.call('EXISTS', KEYS[5]) == 1 then return -5 end
if redis.call('SISMEMBER', KEYS[6], ARGV[1]) == 1 then return 0 end
local last = redis.call('GET', KEYS[1])
if not last then
  local chats = redis.call('GET', KEYS[4])
  if not chats then return -1 end
  if tonumber(ARGV[1]) > tonumber(chats) then return 0 end
  return -2
end
local n = redis.call('INCR', KEYS[1])
local job = ARGV[2] .. n .. '}'
local id = redis.call('XADD', KEYS[2], '*', 'j', job)
redis.call('HSET', KEYS[3], n, '{"e":"' .. id .. ARGV[3])
redis.call('PUBLISH', ARGV[4], job)
return n
