"""The view cap across nodes: each open view of an account holds a slot in Redis.

`{p}views:{viewer_id}` is a sorted set, member `{node_id}/{slot}` → expiry on Redis's clock.
Taking a slot is one Lua script (forget expired slots and slots of dead nodes, count, add), so
two offers on two nodes at the same instant cannot both pass the cap. A node refreshes the
expiry of its slots with every heartbeat; the slots of a node that died expire with its
heartbeat (or at once, when it left the living set).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import redis.asyncio as aioredis

from signaling.cluster.registry import NODE_TTL_S

# KEYS[1] the viewer's slots, KEYS[2] the living nodes; ARGV cap, member, ttl.
_TAKE = """
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
"""

# KEYS the viewers' slot sets; ARGV[1] ttl, then one member per key.
_REFRESH = """
local t = redis.call('TIME')
local expiry = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expiry, ARGV[i + 1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1])) + 1)
end
return #KEYS
"""


class ClusterViewSlots:
    """This node's slots in the cluster-wide count of each account's open views."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        node_id: uuid.UUID | str,
        ttl_s: float = NODE_TTL_S,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = str(node_id)
        self.ttl_s = ttl_s
        self._held: dict[uuid.UUID, set[str]] = defaultdict(set)

    def _key(self, viewer_id: uuid.UUID) -> str:
        return f"{self.prefix}views:{viewer_id}"

    async def take(self, viewer_id: uuid.UUID, cap: int) -> str | None:
        """A slot for one more view of `viewer_id`, or None when the account holds `cap`."""
        member = f"{self.node_id}/{uuid.uuid4().hex}"
        nodes = f"{self.prefix}nodes"
        taken = await self.redis.eval(
            _TAKE, 2, self._key(viewer_id), nodes, cap, member, self.ttl_s
        )
        if not taken:
            return None
        self._held[viewer_id].add(member)
        return member

    async def give_back(self, viewer_id: uuid.UUID, slot: str) -> None:
        held = self._held.get(viewer_id)
        if held is not None:
            held.discard(slot)
            if not held:
                del self._held[viewer_id]
        await self.redis.zrem(self._key(viewer_id), slot)

    def held(self) -> int:
        return sum(len(slots) for slots in self._held.values())

    async def refresh(self) -> None:
        """Push the expiry of every slot this node holds (called with each heartbeat)."""
        pairs = [(viewer, slot) for viewer, slots in self._held.items() for slot in slots]
        for start in range(0, len(pairs), 500):  # bounded script arguments
            batch = pairs[start : start + 500]
            keys = [self._key(viewer) for viewer, _ in batch]
            await self.redis.eval(
                _REFRESH, len(keys), *keys, self.ttl_s, *(slot for _, slot in batch)
            )
            await asyncio.sleep(0)
