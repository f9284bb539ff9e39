-- Deletes an application: sets its deleted marker (consulted by every read and script, and by
-- the worker, which never persists anything of a deleted application) and queues the delete's
-- job, in one step.
-- KEYS: deleted-application marker, the application's shard stream.
-- ARGV: app id, now (µs).
-- Returns 1, or -5 when it is deleted already.
if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then return -5 end
redis.call('XADD', KEYS[2], '*', 'j',
  '{"k":"da","a":"' .. ARGV[1] .. '","c":0,"t":"' .. ARGV[2] .. '"}')
return 1
