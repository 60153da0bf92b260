"""The cluster at a glance (`vilokanam cluster`): living nodes, and each stream's origin and
viewers per node, from the registry."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from signaling.cluster.registry import Registry


async def overview(registry: Registry) -> dict[str, Any]:
    """{"nodes": [cards], "streams": [{"stream_id", "origin", "viewers", "relays"}]}.

    Streams whose origin node is dead and which no living node serves are left out. A living
    node other than the origin with viewers of a stream serves them through a relay (one per
    stream per edge node), so those nodes are the stream's relays.
    """
    nodes = await registry.nodes()
    living = {node.node_id for node in nodes}
    streams = []
    for stream_id, origin in sorted((await registry.origins()).items()):
        viewers = await registry.viewers(stream_id)
        if origin not in living and not viewers:
            continue
        streams.append(
            {
                "stream_id": stream_id,
                "origin": origin if origin in living else None,
                "viewers": viewers,
                "relays": sorted(node for node in viewers if node != origin),
            }
        )
    return {"nodes": [asdict(node) for node in nodes], "streams": streams}
