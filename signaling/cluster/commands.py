"""Commands one node asks another to carry out, over Redis pub/sub, acknowledged.

Each node listens on `{p}cluster:commands:{node_id}`. A command is JSON {"id", "op", "args"};
the node runs the handler registered for `op` and then pushes "done" (or "failed") on the
list `{p}cluster:ack:{id}`, which the sender waits on. PUBLISH reports how many listeners got
the message, so a command for a node that is not listening fails at once instead of waiting.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter
from redis.exceptions import RedisError

from signaling.background import finish
from signaling.cluster.subscription import Subscription

logger = structlog.get_logger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

ACK_TTL_S = 30

COMMANDS = Counter(
    "vilokanam_cluster_commands_total",
    "Commands between nodes, by operation and outcome (sent, done, failed, unheard, timeout)",
    ["op", "outcome"],
)


class CommandBus:
    def __init__(self, redis: aioredis.Redis, prefix: str, node_id: uuid.UUID | str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = str(node_id)
        self._handlers: dict[str, Handler] = {}
        self._subscription = Subscription(
            redis, self.channel(self.node_id), self._spawn, "cluster_commands"
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def channel(self, node_id: str) -> str:
        return f"{self.prefix}cluster:commands:{node_id}"

    def handle(self, op: str, handler: Handler) -> None:
        self._handlers[op] = handler

    async def send(self, node_id: str, op: str, args: dict[str, Any], timeout_s: float) -> bool:
        """Ask `node_id` to carry out `op`; True once it says it did, False when no such node
        listens, it failed, or it did not answer within `timeout_s`."""
        command_id = uuid.uuid4().hex
        message = json.dumps({"id": command_id, "op": op, "args": args})
        if not await self.redis.publish(self.channel(node_id), message):
            COMMANDS.labels(op, "unheard").inc()
            return False
        COMMANDS.labels(op, "sent").inc()
        ack = await self.redis.blpop([self._ack_key(command_id)], timeout=timeout_s)
        if ack is None:
            COMMANDS.labels(op, "timeout").inc()
            logger.warning("cluster_command_timeout", op=op, node_id=node_id)
            return False
        return bool(ack[1] == b"done")

    def _ack_key(self, command_id: str) -> str:
        return f"{self.prefix}cluster:ack:{command_id}"

    async def start(self) -> None:
        await self._subscription.start()

    async def close(self) -> None:
        await self._subscription.close()
        await finish(self._tasks)

    async def _spawn(self, data: bytes) -> None:
        """Each command in a task of its own: a slow handler holds up no other command."""
        task = asyncio.create_task(self._run(data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, data: bytes) -> None:
        try:
            command = json.loads(data)
            op, command_id, args = command["op"], str(command["id"]), dict(command["args"])
        except (ValueError, KeyError, TypeError):
            logger.warning("cluster_command_malformed")
            return
        handler = self._handlers.get(op)
        op = op if handler is not None else "unknown"
        outcome = "failed"
        try:
            if handler is None:
                logger.warning("cluster_command_unknown")
            else:
                await handler(args)
                outcome = "done"
        except Exception:
            logger.exception("cluster_command_failed", op=op)
        COMMANDS.labels(op, outcome).inc()
        key = self._ack_key(command_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.rpush(key, outcome)
                pipe.expire(key, ACK_TTL_S)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("cluster_command_ack_failed", op=op, error=str(exc))
