-- Deletes a chat: adds its number to the application's deleted chats (consulted by every read
-- and script, and by the worker, which never persists anything of a deleted chat) and queues
-- the delete's job and publishes it on the chat's live channel (its followers' streams end), in
-- one step. The count is the chat counter less the deleted set's size.
-- KEYS: chat counter, stream, deleted-application marker, deleted chats.
-- ARGV: chat number, app id, now (µs), the chat's live channel.
-- Returns 1, or a code: -5 (no such application), -1 (seed the chat counter), 0 (no such chat).
if redis.call('EXISTS', KEYS[3]) == 1 then return -5 end
local last = redis.call('GET', KEYS[1])
if not last then return -1 end
if tonumber(ARGV[1]) > tonumber(last) then return 0 end
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 0 end
local job = '{"k":"dc","a":"' .. ARGV[2] .. '","c":' .. ARGV[1] .. ',"t":"' .. ARGV[3] .. '"}'
redis.call('XADD', KEYS[2], '*', 'j', job)
redis.call('PUBLISH', ARGV[4], job)
return 1
