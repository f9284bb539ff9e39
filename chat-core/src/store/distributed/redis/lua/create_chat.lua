-- Numbers a new chat, queues its job and records it as pending, in one step (all in the
-- application's slot; the caller then sets the chat's message counter, in the chat's slot).
-- KEYS: chat counter, the application's shard stream, pending chats, deleted-application marker.
-- ARGV: app id, now (µs).
-- Returns the chat's number, or -1 (seed the chat counter) when the counter is missing, -5 when
-- the application is deleted.
if redis.call('EXISTS', KEYS[4]) == 1 then return -5 end
if not redis.call('GET', KEYS[1]) then return -1 end
local n = redis.call('INCR', KEYS[1])
local id = redis.call('XADD', KEYS[2], '*', 'j',
  '{"k":"c","a":"' .. ARGV[1] .. '","c":' .. n .. ',"t":"' .. ARGV[2] .. '"}')
redis.call('HSET', KEYS[3], n, '{"e":"' .. id .. '","c":"' .. ARGV[2] .. '"}')
return n
