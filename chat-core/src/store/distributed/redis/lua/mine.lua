-- Whose pending record is it: after a write that its replicas did not acknowledge in time, the
-- write path undoes it only if it is still its own (a failover may have lost it, and the
-- number may since be another write's).
-- KEYS: a pending hash. ARGV: the field (a number), the end of the record the write wrote.
-- Returns 1 (the record is the write's), 0 (another write's), -1 (no record: persisted, or lost).
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return -1 end
if string.sub(rec, -#ARGV[2]) == ARGV[2] then return 1 end
return 0
