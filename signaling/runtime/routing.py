"""The node's part in cluster routing, opened with the app after node_liveness (app[REGISTRY]).

- Sessions follow their node: a session that ends is dropped from the registry (the WHIP/WHEP
  handlers record it when they create it, before answering).
- The view cap counts every node's views: LiveStreams takes its slots in Redis
  (signaling.cluster.view_slots), refreshed here with each heartbeat.
- Commands from other nodes: "end_broadcast" ends a broadcast this node holds (an owner's
  request or a key rotation that landed on another node).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from redis.exceptions import RedisError

from signaling.background import every, finish
from signaling.cluster.commands import CommandBus
from signaling.cluster.routing import NodeRouting
from signaling.cluster.view_slots import ClusterViewSlots
from signaling.keys import CONFIG, LIVE, REDIS, REGISTRY, ROUTING
from signaling.runtime.node_liveness import SWEEP_EVERY_S

logger = structlog.get_logger(__name__)

# A command to end something on another node waits this long for its acknowledgement: the
# cut-off budget of the cluster (issue 12: within 2 s).
COMMAND_TIMEOUT_S = 2.0


async def cluster_routing(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: forwarding client, commands, cluster-wide view slots; see the module doc."""
    live, config, redis = app[LIVE], app[CONFIG], app[REDIS]
    prefix = config.server.redis_prefix
    slots = ClusterViewSlots(redis, prefix, live.node_id)
    commands = CommandBus(redis, prefix, live.node_id)

    async def end_broadcast(args: dict[str, Any]) -> None:
        await live.end_broadcast(uuid.UUID(str(args["stream_id"])), str(args["reason"]))

    commands.handle("end_broadcast", end_broadcast)
    await commands.start()
    routing = NodeRouting(aiohttp.ClientSession(), commands, slots, config.cluster.node_secret)
    app[ROUTING] = routing
    live.view_slots = slots
    tasks: set[asyncio.Task[None]] = set()
    open_ = True

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        if not open_:  # closing: a stopped node's sessions resolve to no living node anyway
            coro.close()
            return
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    live.on_session_end(lambda token: spawn(_drop_session(app, token)))
    stop = asyncio.Event()
    refresher = asyncio.create_task(every(SWEEP_EVERY_S, stop, lambda: _refresh(slots)))
    yield
    open_ = False
    stop.set()
    await finish([refresher, *tasks])
    await commands.close()
    await routing.client.close()


async def _drop_session(app: web.Application, token: str) -> None:
    try:
        await app[REGISTRY].drop_session(token)
    except (RedisError, OSError) as exc:
        logger.warning("cluster_session_drop_failed", error=str(exc))


async def _refresh(slots: ClusterViewSlots) -> None:
    try:
        await slots.refresh()
    except (RedisError, OSError) as exc:
        logger.warning("cluster_view_slots_refresh_failed", error=str(exc))


async def end_broadcast_on(
    app: web.Application, node_id: uuid.UUID, stream_id: uuid.UUID, reason: str
) -> bool:
    """Ask the node holding a broadcast to end it; True once it did (within 2 s), False when
    that node is gone, failed or too slow (the caller then closes the record itself)."""
    args = {"stream_id": str(stream_id), "reason": reason}
    try:
        return await app[ROUTING].commands.send(
            str(node_id), "end_broadcast", args, COMMAND_TIMEOUT_S
        )
    except (RedisError, OSError) as exc:
        logger.warning("cluster_command_send_failed", op="end_broadcast", error=str(exc))
        return False
