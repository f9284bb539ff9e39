-- Acknowledges and deletes persisted entries, and drops each pending record still written by
-- one of them (a record a later job replaced stays, for that job).
-- KEYS: a shard's stream (every pending hash named is in its slot).
-- ARGV: the group, then per pending hash: the hash, k, and k pairs (field, entry id).
-- Returns the number of entries acknowledged.
local ids = {}
local i = 2
while i <= #ARGV do
  local hash, k = ARGV[i], tonumber(ARGV[i + 1])
  local fields = {}
  for j = 1, k do fields[j] = ARGV[i + 2 * j] end
  local records = redis.call('HMGET', hash, unpack(fields))
  local drop = {}
  for j = 1, k do
    local id = ARGV[i + 1 + 2 * j]
    ids[#ids + 1] = id
    local rec = records[j]
    if rec then
      -- Records start with their entry id; older ones may hold it elsewhere.
      local mine = string.sub(rec, 1, #id + 7) == '{"e":"' .. id .. '"'
      if not mine and string.sub(rec, 1, 6) ~= '{"e":"' then mine = cjson.decode(rec).e == id end
      if mine then drop[#drop + 1] = fields[j] end
    end
  end
  if #drop > 0 then redis.call('HDEL', hash, unpack(drop)) end
  i = i + 2 + 2 * k
end
if #ids > 0 then
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
end
return #ids
