"""One Redis pub/sub channel listened to in a task of its own, for as long as a node runs.

Cluster commands (commands.py) and cut-offs across nodes (runtime/cutoffs.py) both listen this
way: every message's data goes to a handler; a lost connection is logged and retried after a
second (redis-py re-subscribes on reconnect) instead of ending the listener or spinning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from signaling.background import finish

logger = structlog.get_logger(__name__)

MessageHandler = Callable[[bytes], Awaitable[None]]

POLL_S = 1.0
RETRY_S = 1.0


class Subscription:
    """`channel` on `redis`: `start()` subscribes and listens, `close()` stops listening and
    closes the connection. Each message's data is awaited in `on_message`, one at a time; a lost
    subscription is logged as `cluster_subscription_lost` with its `name`."""

    def __init__(
        self, redis: aioredis.Redis, channel: str, on_message: MessageHandler, name: str
    ) -> None:
        self.channel = channel
        self._on_message = on_message
        self._name = name
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        await self._pubsub.subscribe(self.channel)
        self._listener = asyncio.create_task(self._listen())

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            await finish([self._listener])
        await self._pubsub.aclose()

    async def _listen(self) -> None:
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=POLL_S)
            except (RedisError, OSError) as exc:
                logger.warning("cluster_subscription_lost", subscription=self._name, error=str(exc))
                await asyncio.sleep(RETRY_S)
                continue
            if message is not None and message["type"] == "message":
                await self._on_message(message["data"])
