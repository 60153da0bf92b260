"""Live earnings pushed to creators' dashboard sockets (`/ws/creator`), produced in one place.

One task per process samples, once a second, the figures of every creator who has a socket open
in this process (one sample per creator, however many tabs they have open) and sends each of
them {"type": "earnings", …} while any of their streams is live, plus one message when the last
one ends. The figures are shared state (the meter in Redis, live streams in PostgreSQL), so no
pub/sub is needed: a process only ever serves its own sockets. "This second" is the difference
between two consecutive samples of cumulative counters, with the server-clock interval between
them (`interval_ms`), so a late sample does not pass for a jump in earnings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import WSCloseCode, web

from signaling.background import finish

logger = structlog.get_logger(__name__)

# The cumulative figures of one creator now: the body of GET /api/creator/live.
Figures = dict[str, Any]
FiguresOf = Callable[[uuid.UUID], Awaitable[Figures]]

INTERVAL_S = 1.0


@dataclass(eq=False)
class CreatorSocket:
    """One open dashboard socket of a signed-in creator; `ready` once it has been greeted."""

    ws: web.WebSocketResponse
    creator_id: uuid.UUID
    ready: bool = False


def earnings_message(now: Figures, before: Figures | None) -> dict[str, Any]:
    """{"type": "earnings"} with the figures `now` and what changed since `before`.

    Without an earlier sample the per-second figures are null: unknown, not zero. Streams that
    were not live in `before` add nothing: their counters may hold an earlier session's seconds.
    """
    message: dict[str, Any] = {
        "type": "earnings",
        **now,
        "interval_ms": None,
        "seconds_this_second": None,
        "earned_this_second": None,
    }
    if before is None:
        return message
    ticks_before = {s["id"]: s["ticks"] for s in before["streams"]}
    earned = int(now["earnings"]["total"]) - int(before["earnings"]["total"])
    message["interval_ms"] = now["at_ms"] - before["at_ms"]
    message["seconds_this_second"] = sum(
        s["ticks"] - ticks_before[s["id"]] for s in now["streams"] if s["id"] in ticks_before
    )
    message["earned_this_second"] = str(max(0, earned))
    return message


class EarningsFeed:
    """The sockets of `/ws/creator` in this process and the one task that feeds them."""

    def __init__(self, figures_of: FiguresOf, interval_s: float = INTERVAL_S) -> None:
        self._figures_of = figures_of
        self._interval_s = interval_s
        self._sockets: dict[uuid.UUID, set[CreatorSocket]] = defaultdict(set)
        self._last: dict[uuid.UUID, Figures] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def open_sockets(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def join(self, socket: CreatorSocket) -> None:
        """Follow a socket and greet it with the figures now (one sample, not a loop)."""
        self._sockets[socket.creator_id].add(socket)  # first, so shutdown closes it too
        now = await self._figures_of(socket.creator_id)
        before = self._last.setdefault(socket.creator_id, now)
        await socket.ws.send_json(earnings_message(now, None if before is now else before))
        socket.ready = True

    def leave(self, socket: CreatorSocket) -> None:
        sockets = self._sockets.get(socket.creator_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self._sockets[socket.creator_id]
            self._last.pop(socket.creator_id, None)

    async def close(self) -> None:
        """Stop sampling and say goodbye to every socket (1001); safe to call twice."""
        if self._task is not None:
            self._stop.set()
            await finish([self._task])
            self._task = None
        sockets = [s for group in self._sockets.values() for s in group]
        await asyncio.gather(
            *(
                s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
                for s in sockets
            ),
            return_exceptions=True,
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not self._stop.is_set():
            due += self._interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, due - loop.time()))
                return
            # Behind by more than a beat (a busy loop): sample now, do not catch up in a burst.
            due = max(due, loop.time() - self._interval_s)
            await self.tick()

    async def tick(self) -> None:
        """Sample every followed creator once and push to their sockets."""
        creators = list(self._sockets)
        results = await asyncio.gather(
            *(self._figures_of(c) for c in creators), return_exceptions=True
        )
        sends = []
        for creator_id, figures in zip(creators, results, strict=True):
            if isinstance(figures, BaseException):
                logger.warning(
                    "earnings_sample_failed", creator_id=str(creator_id), error=repr(figures)
                )
                continue
            message = self._message(creator_id, figures)
            if message is not None:
                sends.extend(self._send(creator_id, message))
        await asyncio.gather(*sends, return_exceptions=True)

    def _message(self, creator_id: uuid.UUID, now: Figures) -> dict[str, Any] | None:
        """The message for a new sample; None while none of the creator's streams is live."""
        if creator_id not in self._sockets:  # left while sampling
            return None
        before = self._last.get(creator_id)
        self._last[creator_id] = now
        if not now["streams"] and not (before and before["streams"]):
            return None
        return earnings_message(now, before)

    def _send(self, creator_id: uuid.UUID, message: dict[str, Any]) -> list[Awaitable[None]]:
        text = json.dumps(message)
        return [
            s.ws.send_str(text)
            for s in self._sockets.get(creator_id, ())
            if s.ready and not s.ws.closed
        ]
