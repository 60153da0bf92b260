-- A slot in one account's view cap, taken atomically (signaling/cluster/view_slots.py).
-- KEYS[1] the viewer's slots (zset member -> expiry), KEYS[2] the living nodes (zset id -> expiry);
-- ARGV cap, member ("{node_id}/{slot}"), ttl in seconds. Returns 1 when taken, 0 at the cap.
-- Expired slots and slots of nodes no longer living are dropped before counting.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local node = string.match(member, '^([^/]+)/')
  local alive = node and redis.call('ZSCORE', KEYS[2], node)
  if not alive or tonumber(alive) <= now then redis.call('ZREM', KEYS[1], member) end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
return 1
