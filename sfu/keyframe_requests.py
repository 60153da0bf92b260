"""Merged, rate-limited keyframe requests (PLI) toward one publisher track.

Hundreds of viewers joining or reporting loss must not become hundreds of PLIs: the publisher
would send a keyframe each time. Requests inside the interval are merged into one sent at its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

logger = structlog.get_logger(__name__)


class KeyframeRequester:
    """At most one request per ``min_interval`` seconds; later requests are merged, not lost."""

    def __init__(self, send: Callable[[], Awaitable[None]], min_interval: float) -> None:
        self._send = send
        self.min_interval = min_interval
        self.sent = 0
        self._last: float | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self) -> None:
        """Ask for a keyframe as soon as the rate limit allows."""
        if self._pending is not None:
            return
        loop = asyncio.get_running_loop()
        delay = 0.0
        if self._last is not None:
            delay = max(0.0, self._last + self.min_interval - loop.time())
        self._pending = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._pending = None
        self._last = asyncio.get_running_loop().time()
        self.sent += 1
        task = asyncio.ensure_future(self._send_safely())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_safely(self) -> None:
        try:
            await self._send()
        except ConnectionError:
            logger.debug("sfu_keyframe_request_not_sent", reason="not connected")

    def cancel(self) -> None:
        """Drop a pending request (the track ended)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
