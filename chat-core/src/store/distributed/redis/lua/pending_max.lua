-- KEYS: a pending hash. Returns its highest number (0 when empty).
local m = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local v = tonumber(f)
  if v and v > m then m = v end
end
return m
