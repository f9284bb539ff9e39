-- Seeds a missing counter: sets it, if it is still missing, to the highest of the numbers
-- handed out that anyone can still see.
-- KEYS: a counter, its pending hash.
-- ARGV: the pending maximum seen before reading the database, the database's maximum.
-- Returns the counter.
local m = math.max(tonumber(ARGV[1]), tonumber(ARGV[2]))
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
  local v = tonumber(f)
  if v and v > m then m = v end
end
redis.call('SET', KEYS[1], m, 'NX')
return tonumber(redis.call('GET', KEYS[1]))
