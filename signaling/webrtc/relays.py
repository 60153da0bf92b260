"""Relays this node holds: streams published on another node (their origin), received here so
that this node's viewers watch them as ordinary local subscribers.

A WHEP offer for a stream that is neither published here nor relayed yet opens the relay: the
registry names the origin, this node's sfu makes a recvonly offer (`Sfu.relay`) and it is POSTed
to the origin's `{internal_url}/internal/relays/{stream_id}` with the node credential; the
origin's answer (signaling/webrtc/internal.py) completes it. One relay per stream per node:
concurrent offers share the one being opened. A relay closes RELAY_IDLE_S after its last viewer
here left (DELETE of the origin's relay resource, then the local publisher ends), and ends when
the origin ends it (the stream ended, the origin went away): this node's viewers of it end then.

Billing, view rows and sockets of the viewers are this node's, as for any viewer; the stream's
PostgreSQL states and its recording are the origin's (LiveStreams.relay_started).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass

import aiohttp
import redis.asyncio as aioredis
import structlog
from aiohttp import web
from prometheus_client import Counter

from sfu import AlreadyPublishing, RelayFailed, SfuEvent
from signaling.cluster.credential import authorization
from signaling.cluster.registry import Registry
from signaling.http.errors import ApiError
from signaling.keys import CONFIG, LIVE, REGISTRY, RELAYS
from signaling.webrtc.http import CORS, SDP, not_live
from signaling.webrtc.served_relays import ServedRelays
from signaling.webrtc.sessions import LiveStreams

logger = structlog.get_logger(__name__)

EXCHANGE_TIMEOUT_S = 10.0  # the origin's answer to a relay offer
RELEASE_TIMEOUT_S = 5.0
ORIGIN_CHECK_S = 2.0  # how often a relay checks its origin still beats in the registry

RELAYS_OPENED = Counter("vilokanam_relays_opened_total", "Relays from origin nodes opened here")
RELAYS_CLOSED = Counter(
    "vilokanam_relays_closed_total",
    "Relays from origin nodes closed here (idle, origin_ended, origin_gone, shutdown)",
    ["reason"],
)
RELAY_FAILURES = Counter(
    "vilokanam_relay_failures_total",
    "Relays that could not be opened (unreachable origin, refused, unusable answer, registry)",
    ["reason"],
)


class OriginRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"the origin answered {status}")
        self.status = status


class RelayUnavailable(Exception):
    """The stream has a living origin, but no relay from it could be opened now."""


@dataclass
class Relay:
    stream_id: uuid.UUID
    origin_id: str
    publisher_id: str  # of the local publisher the relay feeds
    resource: str | None  # the origin's URL of this relay (DELETE ends it there)
    users: int = 0  # WHEP offers being answered through it right now
    watcher: asyncio.Task[None] | None = None


class OriginExchange:
    """The edge's relay offer to the origin over HTTP, the origin's answer back."""

    def __init__(
        self, http: aiohttp.ClientSession, origin_url: str, stream_id: uuid.UUID, secret: str
    ) -> None:
        self.http = http
        self.origin_url = origin_url
        self.url = f"{origin_url}/internal/relays/{stream_id}"
        self.secret = secret
        self.resource: str | None = None

    async def __call__(self, offer: str) -> str:
        headers = {"Content-Type": SDP, **authorization(self.secret)}
        async with self.http.post(self.url, data=offer, headers=headers) as response:
            if response.status != 201:
                raise OriginRefused(response.status)
            answer = await response.text()
            location = response.headers.get("Location")
            self.resource = f"{self.origin_url}{location}" if location else None
            return answer


class Relays:
    """This node's relays from origins (edge side) and to edges (`served`, origin side)."""

    def __init__(
        self,
        live: LiveStreams,
        registry: Registry,
        http: aiohttp.ClientSession,
        secret: str | None,
        idle_s: float,
    ) -> None:
        self.live = live
        self.registry = registry
        self.http = http
        self.secret = secret
        self.idle_s = idle_s
        self.served = ServedRelays(live.sfu)
        self._held: dict[uuid.UUID, Relay] = {}
        self._opening: dict[uuid.UUID, asyncio.Task[Relay | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        live.sfu.on_event(self._on_sfu_event)

    def count(self) -> int:
        return len(self._held)

    @contextlib.asynccontextmanager
    async def serving(self, stream_id: uuid.UUID) -> AsyncIterator[None]:
        """The stream's media on this node while a viewer's offer is answered: published here,
        relayed already, or relayed now. 409 (not live) when no node publishes it; 503 when its
        origin cannot be reached."""
        relay = None
        if not self.live.is_origin(stream_id):
            relay = self._held.get(stream_id) or await self._open_shared(stream_id)
            if relay is None and not self.live.is_origin(stream_id):
                raise not_live()
        if relay is not None:
            relay.users += 1  # not idle while this offer is answered
        try:
            yield
        finally:
            if relay is not None:
                relay.users -= 1

    async def make_way(self, stream_id: uuid.UUID) -> None:
        """A publisher WHIPs here: refused (AlreadyPublishing) while another living node
        publishes the stream; a relay here from an origin that is gone ends first."""
        origin = await self.registry.origin(stream_id)
        if origin is not None and origin.node_id != self.registry.node_id:
            raise AlreadyPublishing(str(stream_id))
        relay = self._held.get(stream_id)
        if relay is not None:
            await self._end(relay, "origin_gone")

    async def _open_shared(self, stream_id: uuid.UUID) -> Relay | None:
        """Open the stream's relay, or wait for the one being opened by another offer."""
        task = self._opening.get(stream_id)
        if task is None:
            task = asyncio.create_task(self._open(stream_id))
            self._opening[stream_id] = task
            task.add_done_callback(lambda done: self._opened(stream_id, done))
        try:
            return await asyncio.shield(task)  # a viewer who hangs up leaves it to the others
        except RelayUnavailable as exc:
            raise ApiError(
                503, str(exc), "origin_unavailable", headers={**CORS, "Retry-After": "2"}
            ) from None

    def _opened(self, stream_id: uuid.UUID, task: asyncio.Task[Relay | None]) -> None:
        if self._opening.get(stream_id) is task:
            del self._opening[stream_id]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone

    async def _open(self, stream_id: uuid.UUID) -> Relay | None:
        """The relay from the stream's origin; None when no other living node publishes it."""
        try:
            origin = await self.registry.origin(stream_id)
        except aioredis.RedisError as exc:
            raise self._failed(stream_id, "registry", type(exc).__name__) from None
        if origin is None or origin.node_id == self.registry.node_id or not self.secret:
            return None
        exchange = OriginExchange(self.http, origin.internal_url, stream_id, self.secret)
        try:
            publisher_id = await self.live.sfu.relay(str(stream_id), exchange)
        except AlreadyPublishing:
            return None  # published on this node meanwhile
        except OriginRefused as exc:
            if exc.status == 409:
                return None  # not live there any more
            raise self._failed(stream_id, "refused", f"status {exc.status}") from None
        except RelayFailed as exc:
            self._spawn(self._release(stream_id, exchange.resource))
            raise self._failed(stream_id, "bad_answer", str(exc)) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._failed(stream_id, "unreachable", type(exc).__name__) from None
        relay = Relay(stream_id, origin.node_id, publisher_id, exchange.resource)
        self._held[stream_id] = relay
        self.live.relay_started(stream_id)
        relay.watcher = self._spawn(self._close_when_idle(relay))
        RELAYS_OPENED.inc()
        logger.info("cluster_relay_opened", stream_id=str(stream_id), origin=origin.node_id)
        return relay

    def _failed(self, stream_id: uuid.UUID, reason: str, detail: str) -> RelayUnavailable:
        RELAY_FAILURES.labels(reason).inc()
        logger.warning(
            "cluster_relay_failed", stream_id=str(stream_id), reason=reason, detail=detail
        )
        return RelayUnavailable("the node this stream is published on cannot be reached; retry")

    async def _close_when_idle(self, relay: Relay) -> None:
        """Close the relay once no viewer here has used it for idle_s seconds, or once its
        origin's heartbeat lapsed (ICE consent alone would take ~30 s to notice a dead one)."""
        last_used = last_checked = time.monotonic()
        while self._held.get(relay.stream_id) is relay:
            await asyncio.sleep(max(min(self.idle_s / 4, ORIGIN_CHECK_S), 0.05))
            now = time.monotonic()
            if now - last_checked >= ORIGIN_CHECK_S:
                last_checked = now
                if not await self._origin_lives(relay):
                    await self._end(relay, "origin_gone")
                    return
            if relay.users or self.live.sessions_of(relay.stream_id):
                last_used = now
            elif now - last_used >= self.idle_s:
                await self._end(relay, "idle")

    async def _origin_lives(self, relay: Relay) -> bool:
        try:
            return await self.registry.node(relay.origin_id) is not None
        except aioredis.RedisError:
            return True  # the registry is unsure, the relay's connection is the judge

    async def _end(self, relay: Relay, reason: str) -> None:
        """Forget the relay, end the local publisher and viewers, release it on the origin."""
        if self._held.get(relay.stream_id) is not relay:
            return
        del self._held[relay.stream_id]
        self.live.relay_stopped(relay.stream_id)  # before any await: new offers open anew
        if relay.watcher is not None and relay.watcher is not asyncio.current_task():
            relay.watcher.cancel()
        RELAYS_CLOSED.labels(reason).inc()
        logger.info("cluster_relay_closed", stream_id=str(relay.stream_id), reason=reason)
        await self.live.sfu.unpublish(str(relay.stream_id))  # a no-op when the origin ended it
        await self.live.end_views(relay.stream_id, reason)
        if reason != "origin_gone":  # a dead origin has nothing to release
            await self._release(relay.stream_id, relay.resource)

    async def _release(self, stream_id: uuid.UUID, resource: str | None) -> None:
        """DELETE the relay's resource on the origin (best effort: it ends there on its own
        when the connection goes)."""
        if resource is None or not self.secret:
            return
        timeout = aiohttp.ClientTimeout(total=RELEASE_TIMEOUT_S)
        try:
            headers = authorization(self.secret)
            async with self.http.delete(resource, headers=headers, timeout=timeout) as response:
                if response.status not in (200, 204, 404):
                    logger.warning(
                        "cluster_relay_release_refused",
                        stream_id=str(stream_id),
                        status=response.status,
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning(
                "cluster_relay_release_failed", stream_id=str(stream_id), error=type(exc).__name__
            )

    def _on_sfu_event(self, event: SfuEvent) -> None:
        """The origin ended the relay (stream ended, origin gone, connection failed)."""
        if event.kind != "publisher_ended" or not event.relay:
            return
        relay = self._held.get(uuid.UUID(event.stream_id))
        if relay is not None and relay.publisher_id == event.peer_id:
            self._spawn(self._end(relay, "origin_ended"))

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Node shutdown: every relay closed (its viewers here end with it)."""
        for relay in list(self._held.values()):
            await self._end(relay, "shutdown")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def relay_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after node_liveness, which makes the registry): relays in and out of this
    node (app[RELAYS]); LiveStreams gets the registry (origins, cluster-wide viewer counts)."""
    config = app[CONFIG].cluster
    live, registry = app[LIVE], app[REGISTRY]
    live.registry = registry
    timeout = aiohttp.ClientTimeout(total=EXCHANGE_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        relays = Relays(live, registry, http, config.node_secret, config.relay_idle_s)
        app[RELAYS] = relays
        yield
        await relays.close()
