"""Live events for WebSocket clients, fanned out through Redis pub/sub so every process sees them.

Two kinds of channel live under the app's redis prefix:
- `{prefix}ws:stream:{stream_id}`: chat, viewer count and status of a stream, for every socket
  watching it, whichever process holds the socket.
- `{prefix}ws:viewer:{stream_id}:{viewer_id}`: messages for one viewer only (billing's "cut" and
  "balance" notices), delivered to that viewer's signed-in sockets on that stream.

- `{prefix}ws:revoked:{token digest}`: a session was signed out; every socket signed in with it
  is closed (4401).

Each process subscribes once to the pattern `{prefix}ws:*` and delivers to its own sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import structlog
from aiohttp import WSCloseCode, web
from redis.exceptions import RedisError

from signaling.background import finish

logger = structlog.get_logger(__name__)

_RETRY_S = 1.0
# The listener wakes at least this often to see whether the app is closing.
_LISTEN_POLL_S = 1.0
# Close code of a socket whose session token was revoked (as for a bad token: sign in again).
CLOSE_SIGNED_OUT = 4401
_SIGNED_OUT = json.dumps(
    {
        "type": "error",
        "code": "unauthorized",
        "message": "signed out: this session token was revoked",
    }
)


@dataclass(eq=False)
class Socket:
    """One open WebSocket watching a stream; `user_id` is set once it has authenticated."""

    ws: web.WebSocketResponse
    stream_id: uuid.UUID
    user_id: uuid.UUID | None = None
    # Names this socket's slot in its user's socket cap (signaling.http.rate_limit.take_slot).
    slot: str = field(default_factory=lambda: uuid.uuid4().hex)


class StreamEvents:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._sockets: dict[uuid.UUID, set[Socket]] = defaultdict(set)
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # Signed-in sockets (stream pages and dashboards) by their session token's digest.
        self._by_session: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._session_of: dict[web.WebSocketResponse, str] = {}

    # --- channels ---------------------------------------------------------------------------

    def stream_channel(self, stream_id: uuid.UUID) -> str:
        return f"{self.prefix}ws:stream:{stream_id}"

    def viewer_channel(self, stream_id: object, viewer_id: object) -> str:
        """Channel of one viewer's sockets on a stream (ids as UUIDs or their strings)."""
        return f"{self.prefix}ws:viewer:{stream_id}:{viewer_id}"

    # --- publishing (any process) -------------------------------------------------------------

    async def to_stream(self, stream_id: uuid.UUID, payload: dict[str, Any]) -> None:
        await self.redis.publish(self.stream_channel(stream_id), json.dumps(payload))

    async def to_viewer(
        self, stream_id: uuid.UUID, viewer_id: uuid.UUID, payload: dict[str, Any]
    ) -> None:
        await self.to_viewers([(stream_id, viewer_id, payload)])

    async def to_viewers(self, messages: list[tuple[object, object, dict[str, Any]]]) -> None:
        """Publish to many viewers in one round trip (the per-second balance updates)."""
        pipe = self.redis.pipeline(transaction=False)
        for stream_id, viewer_id, payload in messages:
            pipe.publish(self.viewer_channel(stream_id, viewer_id), json.dumps(payload))
        await pipe.execute()

    async def revoke_session(self, token_digest: str) -> None:
        """Close every socket signed in with this session, in whichever process it is open."""
        await self.redis.publish(f"{self.prefix}ws:revoked:{token_digest}", "")

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a publish from synchronous code (LiveStreams listeners); dropped once closed."""
        if self._closed:
            coro.close()
            return
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("events_publish_failed", error=repr(task.exception()))

    # --- local sockets ------------------------------------------------------------------------

    def join(self, socket: Socket) -> None:
        self._sockets[socket.stream_id].add(socket)

    def leave(self, socket: Socket) -> None:
        sockets = self._sockets.get(socket.stream_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[socket.stream_id]

    def watch_session(self, ws: web.WebSocketResponse, token_digest: str) -> None:
        """Close `ws` when this session is revoked (replacing the session it watched before)."""
        self.forget_session(ws)
        self._by_session[token_digest].add(ws)
        self._session_of[ws] = token_digest

    def forget_session(self, ws: web.WebSocketResponse) -> None:
        token_digest = self._session_of.pop(ws, None)
        if token_digest is not None:
            sockets = self._by_session[token_digest]
            sockets.discard(ws)
            if not sockets:
                del self._by_session[token_digest]

    def open_sockets(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def start(self) -> None:
        # Subscribed before the app serves, so nothing published after start-up is missed.
        await self._pubsub.psubscribe(f"{self.prefix}ws:*")
        self._listener = asyncio.create_task(self._listen())

    async def close_sockets(self) -> None:
        """Say goodbye to every socket (1001) so shutdown does not wait for them."""
        sockets = [s for group in self._sockets.values() for s in group]
        await asyncio.gather(
            *(
                s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
                for s in sockets
            ),
            return_exceptions=True,
        )

    async def close(self) -> None:
        self._closed = True
        await finish(self._tasks)  # publishes already asked for go out
        if self._listener is not None:
            self._listener.cancel()  # and, should a library swallow that, `_closed` ends it
            await finish([self._listener])
        await self._pubsub.aclose()

    async def _listen(self) -> None:
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=_LISTEN_POLL_S)
            except (RedisError, OSError) as exc:
                # redis-py re-subscribes on reconnect; wait a little instead of spinning.
                logger.warning("events_subscription_lost", error=str(exc))
                await asyncio.sleep(_RETRY_S)
                continue
            if message is not None and message["type"] == "pmessage":
                await self._deliver(message["channel"].decode(), message["data"].decode())

    async def _deliver(self, channel: str, data: str) -> None:
        revoked = channel.removeprefix(f"{self.prefix}ws:revoked:")
        if revoked != channel:
            await self._sign_out(revoked)
            return
        targets = self._targets(channel)
        await asyncio.gather(
            *(s.ws.send_str(data) for s in targets if not s.ws.closed), return_exceptions=True
        )

    async def _sign_out(self, token_digest: str) -> None:
        async def close(ws: web.WebSocketResponse) -> None:
            with contextlib.suppress(ConnectionError):
                await ws.send_str(_SIGNED_OUT)
            await ws.close(code=CLOSE_SIGNED_OUT, message=b"signed out")

        sockets = list(self._by_session.get(token_digest, ()))
        await asyncio.gather(*(close(ws) for ws in sockets), return_exceptions=True)

    def _targets(self, channel: str) -> list[Socket]:
        parts = channel.removeprefix(f"{self.prefix}ws:").split(":")
        try:
            stream_id = uuid.UUID(parts[1])
            viewer_id = uuid.UUID(parts[2]) if parts[0] == "viewer" else None
        except (IndexError, ValueError):
            logger.warning("events_unknown_channel", channel=channel)
            return []
        sockets = self._sockets.get(stream_id, set())
        if parts[0] == "stream":
            return list(sockets)
        return [s for s in sockets if viewer_id is not None and s.user_id == viewer_id]
