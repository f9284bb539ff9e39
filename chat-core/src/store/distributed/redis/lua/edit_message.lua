-- Replaces a message's body: queues the edit's job, records the message as pending with its new
-- body and publishes the job to the chat's live channel, in one step (all in the chat's slot).
-- KEYS: message counter, the chat's shard stream, pending messages, the chat's deleted marker,
--       deleted messages.
-- ARGV: chat number, message number, now (µs), the creation time (µs) or '' when unknown, app
--       id, the new body as a JSON string, the live channel, the publish command.
-- Returns the message's creation time (a string), or a code: 0 (the chat is deleted), -2 (seed
-- the message counter, once sure the chat exists), -4 (no such message), -3 (the creation time
-- is needed: the message is persisted, so the database has it).
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local last = redis.call('GET', KEYS[1])
if not last then return -2 end
if tonumber(ARGV[2]) > tonumber(last) then return -4 end
if redis.call('SISMEMBER', KEYS[5], ARGV[2]) == 1 then return -4 end
local created = ARGV[4]
local rec = redis.call('HGET', KEYS[3], ARGV[2])
if rec then created = cjson.decode(rec).c end
if created == '' then return -3 end
local job = '{"k":"e","a":"' .. ARGV[5] .. '","c":' .. ARGV[1] .. ',"n":' .. ARGV[2] ..
  ',"t":"' .. created .. '","u":"' .. ARGV[3] .. '","b":' .. ARGV[6] .. '}'
local id = redis.call('XADD', KEYS[2], '*', 'j', job)
redis.call('HSET', KEYS[3], ARGV[2],
  '{"e":"' .. id .. '","c":"' .. created .. '","u":"' .. ARGV[3] .. '","b":' .. ARGV[6] .. '}')
redis.call(ARGV[8], ARGV[7], job)
return created
