-- Numbers a new chat, queues its job and records it as pending, in one step.
-- KEYS: chat counter, stream, pending chats, deleted-application marker.
-- ARGV: app id, now (µs), the application's message counter prefix (the new chat's counter is
--       that prefix and the chat's number, known only here).
-- Returns the chat's number, or -1 (seed the chat counter) when the counter is missing, -5 when
-- the application is deleted.
if redis.call('EXISTS', KEYS[4]) == 1 then return -5 end
if not redis.call('GET', KEYS[1]) then return -1 end
local n = redis.call('INCR', KEYS[1])
redis.call('SET', ARGV[3] .. n, 0, 'NX')
local id = redis.call('XADD', KEYS[2], '*', 'j',
  '{"k":"c","a":"' .. ARGV[1] .. '","c":' .. n .. ',"t":"' .. ARGV[2] .. '"}')
redis.call('HSET', KEYS[3], n, '{"e":"' .. id .. '","c":"' .. ARGV[2] .. '"}')
return n
