-- Moves dead-letter entries back to the queue: re-enqueues the job of each of the first ARGV[1]
-- dead entries and deletes them, atomically, so an entry is never both queued and dead, nor in
-- neither.
-- KEYS: a shard's dead-letter stream, its stream. ARGV: how many.
-- Returns the number of entries moved.
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
for _, entry in ipairs(entries) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'j' and fields[i + 1] ~= '' then
      redis.call('XADD', KEYS[2], '*', 'j', fields[i + 1])
    end
  end
  redis.call('XDEL', KEYS[1], entry[1])
end
return #entries
