"""Cluster-wide viewer counts of the streams a node serves.

Each node stores its own connected viewers of a stream in the registry; whichever node's count
changed stores the cluster-wide sum in PostgreSQL (streams.viewer_count, the session's
viewer_peak) and announces it to sockets. Updates of one stream run one at a time, in order: a
late task must never store an older count over a newer one. Without a registry (a single node
before its liveness context ran) the node's own count is the total.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import asyncpg

from signaling.api.streams import queries as streams_db
from signaling.cluster.registry import Registry


class ViewerCounts:
    """local(stream) → this node's connected viewers; session_of(stream) → the live session
    stored on (None on a relaying node: any open one); announce(stream) after a store."""

    def __init__(
        self,
        db: asyncpg.Pool,
        local: Callable[[uuid.UUID], int],
        session_of: Callable[[uuid.UUID], uuid.UUID | None],
        announce: Callable[[uuid.UUID], None],
    ) -> None:
        self.db = db
        self.local = local
        self.session_of = session_of
        self.announce = announce
        self.registry: Registry | None = None  # set once node_liveness made it
        self._counted: dict[uuid.UUID, int] = {}  # this node's viewers last stored, per stream
        self._totals: dict[uuid.UUID, int] = {}  # the cluster-wide count last announced
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    def total(self, stream_id: uuid.UUID) -> int:
        """The cluster-wide count last stored (0 for a stream not served here)."""
        return self._totals.get(stream_id, 0)

    def _lock(self, stream_id: uuid.UUID) -> asyncio.Lock:
        return self._locks.setdefault(stream_id, asyncio.Lock())

    async def changed(self, stream_id: uuid.UUID) -> None:
        """A view of the stream connected or ended here: store and announce if the count moved."""
        async with self._lock(stream_id):
            count = self.local(stream_id)
            if self._counted.get(stream_id) == count:
                return
            self._counted[stream_id] = count
            total = count
            if self.registry is not None:
                await self.registry.set_viewers(stream_id, count)
                total = sum((await self.registry.viewers(stream_id)).values())
            await self._store(stream_id, total)

    async def _store(self, stream_id: uuid.UUID, total: int) -> None:
        self._totals[stream_id] = total
        await streams_db.set_viewer_count(self.db, stream_id, self.session_of(stream_id), total)
        self.announce(stream_id)

    async def forget(self, stream_id: uuid.UUID) -> None:
        """The stream ended here: this node has no viewer of it any more (after any count being
        stored, so none is left behind in the registry)."""
        async with self._lock(stream_id):
            self._counted.pop(stream_id, None)
            self._totals.pop(stream_id, None)
            if self.registry is not None:
                await self.registry.set_viewers(stream_id, 0)
        self._locks.pop(stream_id, None)

    async def sample(self, origins: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Cluster-wide counts of the streams published here, for stream_analytics. A total
        another node stored over a newer one (two nodes' counts changed at once) is set right."""
        counts = {}
        for stream_id in origins:
            async with self._lock(stream_id):
                counts[stream_id] = total = await self._cluster_count(stream_id)
                if total != self._totals.get(stream_id):
                    await self._store(stream_id, total)
        return counts

    async def _cluster_count(self, stream_id: uuid.UUID) -> int:
        if self.registry is None:
            return self.local(stream_id)
        return sum((await self.registry.viewers(stream_id)).values())
