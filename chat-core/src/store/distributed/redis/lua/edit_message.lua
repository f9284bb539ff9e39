-- Replaces a message's body: queues the edit's job, records the message as pending with its new
-- body and publishes the job to the chat's live channel, in one step.
-- KEYS: message counter, stream, pending messages, chat counter, deleted-application marker,
--       deleted chats, deleted messages.
-- ARGV: chat number, message number, now (µs), the creation time (µs) or '' when unknown, app
--       id, the new body as a JSON string, the live channel.
-- Returns the message's creation time (a string), or a code: -1 (seed the chat counter), 0 (no
-- such chat), -2 (seed the message counter), -4 (no such message), -3 (the creation time is
-- needed: the message is persisted, so the database has it), -5 (the application is deleted).
if redis.call('EXISTS', KEYS[5]) == 1 then return -5 end
if redis.call('SISMEMBER', KEYS[6], ARGV[1]) == 1 then return 0 end
local last = redis.call('GET', KEYS[1])
if not last then
  local chats = redis.call('GET', KEYS[4])
  if not chats then return -1 end
  if tonumber(ARGV[1]) > tonumber(chats) then return 0 end
  return -2
end
if tonumber(ARGV[2]) > tonumber(last) then return -4 end
if redis.call('SISMEMBER', KEYS[7], ARGV[2]) == 1 then return -4 end
local created = ARGV[4]
local rec = redis.call('HGET', KEYS[3], ARGV[2])
if rec then created = cjson.decode(rec).c end
if created == '' then return -3 end
local job = '{"k":"e","a":"' .. ARGV[5] .. '","c":' .. ARGV[1] .. ',"n":' .. ARGV[2] ..
  ',"t":"' .. created .. '","u":"' .. ARGV[3] .. '","b":' .. ARGV[6] .. '}'
local id = redis.call('XADD', KEYS[2], '*', 'j', job)
redis.call('HSET', KEYS[3], ARGV[2],
  '{"e":"' .. id .. '","c":"' .. created .. '","u":"' .. ARGV[3] .. '","b":' .. ARGV[6] .. '}')
redis.call('PUBLISH', ARGV[7], job)
return created
