-- Push the expiry of a node's slots (signaling/cluster/view_slots.py); XX: never revive a slot
-- given back meanwhile. KEYS the viewers' slot sets; ARGV[1] ttl, then one member per key.
local t = redis.call('TIME')
local expiry = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expiry, ARGV[i + 1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1])) + 1)
end
return #KEYS
