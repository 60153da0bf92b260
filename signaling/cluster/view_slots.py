"""The view cap across nodes: each open view of an account holds a slot in Redis.

`{p}views:{viewer_id}` is a sorted set, member `{node_id}/{slot}` → expiry on Redis's clock.
Taking a slot is one Lua script (view_slot_take.lua: forget expired slots and slots of dead
nodes, count, add). A node refreshes the expiry of its slots with every heartbeat; the slots of
a node that died expire with its heartbeat (or at once, when it left the living set).

Invariant: an account never holds more than MAX_VIEWS_PER_VIEWER open views over all nodes,
even with offers on several nodes at the same instant (tests/signaling/
test_cluster_view_slots.py::test_concurrent_takes_never_pass_the_cap, test_cluster_routing.py::
test_the_view_cap_counts_views_on_every_node).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from pathlib import Path

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from signaling.cluster.registry import NODE_TTL_S

logger = structlog.get_logger(__name__)

_HERE = Path(__file__).parent


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
        # EVALSHA, loaded on first use (redis-py's Script falls back to EVAL after a restart).
        self._take = redis.register_script((_HERE / "view_slot_take.lua").read_text())
        self._refresh = redis.register_script((_HERE / "view_slot_refresh.lua").read_text())

    def _key(self, viewer_id: uuid.UUID) -> str:
        return f"{self.prefix}views:{viewer_id}"

    async def take(self, viewer_id: uuid.UUID, cap: int) -> str | None:
        """A slot for one more view of `viewer_id`, or None when the account holds `cap`."""
        member = f"{self.node_id}/{uuid.uuid4().hex}"
        nodes = f"{self.prefix}nodes"
        taken = await self._take(keys=[self._key(viewer_id), nodes], args=[cap, member, self.ttl_s])
        if not taken:
            return None
        self._held[viewer_id].add(member)
        return member

    async def give_back(self, viewer_id: uuid.UUID, slot: str) -> None:
        """Free a slot; never raises (a view's teardown must go on without Redis)."""
        held = self._held.get(viewer_id)
        if held is not None:
            held.discard(slot)
            if not held:
                del self._held[viewer_id]
        try:
            await self.redis.zrem(self._key(viewer_id), slot)
        except (RedisError, OSError) as exc:  # no longer refreshed: it expires with the TTL
            logger.warning("cluster_view_slot_release_failed", error=str(exc))

    def held(self) -> int:
        return sum(len(slots) for slots in self._held.values())

    async def refresh(self) -> None:
        """Push the expiry of every slot this node holds (called with each heartbeat)."""
        pairs = [(viewer, slot) for viewer, slots in self._held.items() for slot in slots]
        for start in range(0, len(pairs), 500):  # bounded script arguments
            batch = pairs[start : start + 500]
            keys = [self._key(viewer) for viewer, _ in batch]
            await self._refresh(keys=keys, args=[self.ttl_s, *(slot for _, slot in batch)])
            await asyncio.sleep(0)
