"""Live sessions: the bridge between the HTTP resources of WHIP/WHEP and the sfu.

Each WHIP/WHEP session is an HTTP resource at an unguessable URL. This module keeps those
sessions, moves streams through pending → live → ended in PostgreSQL, records views, keeps the
live viewer count (streams.viewer_count, stream_sessions.viewer_peak) and samples it into
stream_analytics while a stream is live.

In a cluster the node a stream is published on is its origin (the registry says so); other nodes
serve its viewers through a relay (signaling/webrtc/relays.py) and hold it "relayed": live for
viewers, but only the origin moves it through PostgreSQL's states and tells the recorder. Viewer
counts are cluster-wide: each node stores its own in the registry and announces their sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Literal

import asyncpg
import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter

from sfu import AlreadyPublishing, Sfu, SfuEvent, UnknownPeer
from signaling.api.streams import queries as streams_db
from signaling.background import finish
from signaling.cluster.registry import Registry
from signaling.runtime.viewing import (
    LocalViewSlots,
    OpenViewing,
    TooManyViews,
    View,
    ViewPolicy,
    ViewSlots,
)
from signaling.webrtc.viewer_counts import ViewerCounts

logger = structlog.get_logger(__name__)

NOT_CONNECTED = Counter(
    "vilokanam_rtc_not_connected_total",
    "WHIP/WHEP sessions ended because ICE/DTLS did not come up in time",
    ["kind"],
)
TOO_MANY_VIEWS = Counter(
    "vilokanam_whep_too_many_views_total", "WHEP offers refused: the account's view cap"
)

Kind = Literal["whip", "whep"]


@dataclass
class PeerSession:
    """One WHIP or WHEP session: an HTTP resource bound to an sfu peer."""

    kind: Kind
    stream_id: uuid.UUID
    peer_id: str
    ice_ufrag: str | None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    etag: str = field(default_factory=lambda: f'"{secrets.token_hex(8)}"')
    live_session_id: uuid.UUID | None = None  # whip: stream_sessions.id
    view: View | None = None  # whep
    view_slot: str | None = None  # whep: its slot in the account's view cap

    @property
    def location(self) -> str:
        return f"/{self.kind}/{self.stream_id}/{self.token}"


def ice_ufrag(sdp: str) -> str | None:
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.removeprefix("a=ice-ufrag:").strip()
    return None


class LiveStreams:
    """max_views_per_viewer: open WHEP sessions one account may hold (connected or not)."""

    def __init__(
        self, sfu: Sfu, db: asyncpg.Pool, server_url: str, max_views_per_viewer: int = 4
    ) -> None:
        self.sfu = sfu
        self.db = db
        self.server_url = server_url
        self.max_views_per_viewer = max_views_per_viewer
        # Each account's open views, offers included (cluster-wide once a node plugs in Redis).
        self.view_slots: ViewSlots = LocalViewSlots()
        self.counts = ViewerCounts(
            db, self.viewer_count, self.live_session_id, lambda s: self._notify("viewers", s)
        )
        # This process's id on the sessions and views it opens (see node_liveness).
        self.node_id = uuid.uuid4()
        self.policy: ViewPolicy = OpenViewing()
        self._sessions: dict[str, PeerSession] = {}
        self._broadcasts: dict[uuid.UUID, PeerSession] = {}
        self._relayed: set[uuid.UUID] = set()  # streams whose origin is another node
        self._by_peer: dict[str, PeerSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[str, uuid.UUID], None]] = []
        self._ended_listeners: list[Callable[[str], None]] = []
        sfu.on_event(self._on_sfu_event)

    def on_change(self, listener: Callable[[str, uuid.UUID], None]) -> None:
        """Call listener("live"|"ended"|"viewers", stream_id) on changes (recorder, WebSocket)."""
        self._listeners.append(listener)

    def on_session_end(self, listener: Callable[[str], None]) -> None:
        """Call listener(token) when a WHIP/WHEP session ends, however (cluster routing)."""
        self._ended_listeners.append(listener)

    def session(self, kind: Kind, stream_id: uuid.UUID, token: str) -> PeerSession | None:
        found = self._sessions.get(token)
        if found is None or found.kind != kind or found.stream_id != stream_id:
            return None
        return found

    async def cut(self, subscriber_id: str, reason: str) -> View | None:
        """End a view from the server side (billing); the view that was cut, if any."""
        session = self._by_peer.get(subscriber_id)
        if session is None or session.view is None:
            return None
        await self.end_view(session, reason)
        return session.view

    def sessions(self) -> list[PeerSession]:
        """Every WHIP/WHEP session this node holds (a copy: ending them is safe meanwhile)."""
        return list(self._sessions.values())

    def is_live(self, stream_id: uuid.UUID) -> bool:
        """Viewers can watch the stream here: published here or relayed from its origin."""
        return stream_id in self._broadcasts or stream_id in self._relayed

    def is_origin(self, stream_id: uuid.UUID) -> bool:
        return stream_id in self._broadcasts

    def viewer_count(self, stream_id: uuid.UUID) -> int:
        """Viewers on this node whose media session connected (an offer alone is not a
        viewer); relays to other nodes are not viewers."""
        if not self.is_live(stream_id):
            return 0
        return len(self.sfu.subscribers(str(stream_id), connected_only=True))

    @property
    def registry(self) -> Registry | None:
        """The cluster registry (set by the relays context once node_liveness made it)."""
        return self.counts.registry

    @registry.setter
    def registry(self, registry: Registry) -> None:
        self.counts.registry = registry

    def total_viewers(self, stream_id: uuid.UUID) -> int:
        """The cluster-wide viewer count last stored (every node's viewers of the stream)."""
        return self.counts.total(stream_id) if self.is_live(stream_id) else 0

    def local_viewers(self) -> int:
        """Viewers connected to this node, over every stream (its load)."""
        return sum(self.viewer_count(s) for s in (*self._broadcasts, *self._relayed))

    def local_streams(self) -> int:
        return len(self._broadcasts)

    def local_relays(self) -> int:
        return len(self._relayed)

    def sessions_of(self, stream_id: uuid.UUID) -> int:
        """WHEP sessions of the stream on this node, connected or not."""
        return sum(1 for s in self._sessions.values() if s.view and s.stream_id == stream_id)

    def live_session_id(self, stream_id: uuid.UUID) -> uuid.UUID | None:
        broadcast = self._broadcasts.get(stream_id)
        return broadcast.live_session_id if broadcast else None

    # --- broadcasting (WHIP) ---------------------------------------------------------------------

    async def start_broadcast(self, stream_id: uuid.UUID, offer: str) -> tuple[PeerSession, str]:
        """Raises sfu.AlreadyPublishing / sfu.UnsupportedOffer."""
        publisher_id, answer = await self.sfu.publish(str(stream_id), offer)
        session = PeerSession("whip", stream_id, publisher_id, ice_ufrag(offer))
        try:
            # Where other nodes relay it from; claimed before PostgreSQL's states move.
            if self.registry is not None and not await self.registry.claim_origin(stream_id):
                raise AlreadyPublishing(str(stream_id))
            session.live_session_id = await streams_db.go_live(
                self.db, stream_id, self.server_url, self.node_id
            )
        except BaseException:
            await self.sfu.unpublish(str(stream_id))
            if session.live_session_id is not None:
                await streams_db.end_live(self.db, stream_id, session.live_session_id)
            if self.registry is not None:
                await self.registry.clear_origin(stream_id)  # only while it is this node's
            raise
        self._remember(session)
        self._broadcasts[stream_id] = session
        logger.info("webrtc_stream_live", stream_id=str(stream_id))
        self._notify("live", stream_id)
        return session, answer

    async def end_broadcast(self, stream_id: uuid.UUID, reason: str) -> None:
        session = self._broadcasts.pop(stream_id, None)
        if session is None:
            return
        self._forget(session)
        await self._to_the_end(self._end_broadcast(session, reason))

    async def _end_broadcast(self, session: PeerSession, reason: str) -> None:
        stream_id = session.stream_id
        for view in [s for s in self._sessions.values() if s.stream_id == stream_id]:
            await self._close_view(view, record=False)  # end_live marks them all inactive
        await self.sfu.unpublish(str(stream_id))  # its relays to other nodes end with it
        assert session.live_session_id is not None
        await streams_db.end_live(self.db, stream_id, session.live_session_id)
        await self.counts.forget(stream_id)
        if self.registry is not None:
            await self.registry.clear_origin(stream_id)
        logger.info("webrtc_stream_ended", stream_id=str(stream_id), reason=reason)
        self._notify("ended", stream_id)

    # --- relayed from another node (signaling/webrtc/relays.py) ----------------------------------

    def relay_started(self, stream_id: uuid.UUID) -> None:
        """The sfu has the stream from its origin: live here for viewers (not in PostgreSQL,
        not for the recorder: the origin owns both)."""
        self._relayed.add(stream_id)

    def relay_stopped(self, stream_id: uuid.UUID) -> None:
        self._relayed.discard(stream_id)

    async def end_views(self, stream_id: uuid.UUID, reason: str) -> None:
        """End this node's views of a stream that is no longer relayed here."""
        for session in [s for s in self._sessions.values() if s.stream_id == stream_id]:
            if session.view is not None:
                await self.end_view(session, reason)
        await self.counts.forget(stream_id)

    # --- viewing (WHEP) ---------------------------------------------------------------------------

    async def start_view(
        self, stream: asyncpg.Record, viewer_id: uuid.UUID, offer: str
    ) -> tuple[PeerSession, str]:
        """Raises TooManyViews, ViewRefused, sfu.NotLive, sfu.UnsupportedOffer."""
        async with self._opening_view(viewer_id) as slot:
            session, answer = await self._start_view(stream, viewer_id, offer)
            session.view_slot = slot
        if self._sessions.get(session.token) is not session:  # it ended before holding the slot
            await self.view_slots.give_back(viewer_id, slot)
        return session, answer

    @contextlib.asynccontextmanager
    async def _opening_view(self, viewer_id: uuid.UUID) -> AsyncIterator[str]:
        """Take a slot in the viewer's cap before anything else (atomic, across nodes); it is
        given back when the offer fails, or when its view ends (_close_view)."""
        slot = await self.view_slots.take(viewer_id, self.max_views_per_viewer)
        if slot is None:
            TOO_MANY_VIEWS.inc()
            raise TooManyViews(
                f"this account already has {self.max_views_per_viewer} open views; end one "
                "(DELETE its session URL) or wait for views that never connected to expire"
            )
        try:
            yield slot
        except BaseException:
            await asyncio.shield(self.view_slots.give_back(viewer_id, slot))
            raise

    async def _start_view(
        self, stream: asyncpg.Record, viewer_id: uuid.UUID, offer: str
    ) -> tuple[PeerSession, str]:
        stream_id = stream["id"]
        await self.policy.admit(viewer_id, stream_id, stream["price_per_second"])
        subscriber_id, answer = await self.sfu.subscribe(str(stream_id), offer)
        view_id = await streams_db.start_view(self.db, stream_id, viewer_id, self.node_id)
        view = View(
            view_id,
            subscriber_id,
            viewer_id,
            stream_id,
            stream["creator_id"],
            stream["price_per_second"],
        )
        session = PeerSession("whep", stream_id, subscriber_id, ice_ufrag(offer), view=view)
        self._remember(session)
        await self.policy.started(view)
        return session, answer  # counted once connected (sfu event subscriber_connected)

    async def end_view(self, session: PeerSession, reason: str = "left") -> None:
        if self._sessions.get(session.token) is not session:
            return
        self._forget(session)
        await self._to_the_end(self._end_view(session, reason))

    async def _end_view(self, session: PeerSession, reason: str) -> None:
        logger.info("webrtc_view_ended", stream_id=str(session.stream_id), reason=reason)
        await self._close_view(session)
        with contextlib.suppress(UnknownPeer):  # the sfu may have dropped it already (cut, ICE)
            await self.sfu.unsubscribe(session.peer_id, reason)
        await self._count_viewers(session.stream_id)

    async def _close_view(self, session: PeerSession, record: bool = True) -> None:
        self._forget(session)
        assert session.view is not None
        if record:
            await streams_db.end_view(self.db, session.view.view_id)
        await self.policy.ended(session.view)
        if session.view_slot is not None:
            await self.view_slots.give_back(session.view.viewer_id, session.view_slot)

    async def _count_viewers(self, stream_id: uuid.UUID) -> None:
        if self.is_live(stream_id):
            await self.counts.changed(stream_id)

    # --- bookkeeping ------------------------------------------------------------------------

    def _remember(self, session: PeerSession) -> None:
        self._sessions[session.token] = session
        self._by_peer[session.peer_id] = session

    def _forget(self, session: PeerSession) -> None:
        self._by_peer.pop(session.peer_id, None)
        if self._sessions.pop(session.token, None) is not None:
            for listener in self._ended_listeners:
                listener(session.token)

    def _notify(self, what: str, stream_id: uuid.UUID) -> None:
        for listener in self._listeners:
            listener(what, stream_id)

    def _on_sfu_event(self, event: SfuEvent) -> None:
        """The sfu saw a peer go away on its own (ICE failure, DTLS close, cut)."""
        session = self._by_peer.get(event.peer_id)
        if session is None:
            return  # already ended through HTTP
        if event.kind == "subscriber_connected":
            self._spawn(self._count_viewers(session.stream_id))
            return
        if event.reason == "not_connected":
            NOT_CONNECTED.labels(session.kind).inc()
        if session.kind == "whip":
            self._spawn(self.end_broadcast(session.stream_id, event.reason))
        else:
            relayed = session.stream_id in self._relayed and event.reason == "publisher_ended"
            self._spawn(self.end_view(session, "origin_ended" if relayed else event.reason))

    def _spawn(self, coro: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)
        return task

    async def _to_the_end(self, teardown: Coroutine[object, object, None]) -> None:
        """Run a session's teardown to its end even if the caller is cancelled halfway.

        Once a session is forgotten nothing else would end it: a DELETE whose client hung up,
        cancelled between the sfu and PostgreSQL, left the stream live, its views open and its
        recording unfinished. The caller still sees the teardown's own error, if any.
        """
        await asyncio.shield(self._spawn(teardown))

    async def sample_analytics(self) -> None:
        """One stream_analytics row per stream published here, of its cluster-wide viewer count
        (the server calls it every interval)."""
        try:
            counts = await self.counts.sample(list(self._broadcasts))
            await streams_db.sample_viewers(self.db, counts)
        except (asyncpg.PostgresError, aioredis.RedisError, OSError):
            logger.exception("webrtc_analytics_sample_failed")

    async def close(self) -> None:
        for stream_id in list(self._broadcasts):
            await self.end_broadcast(stream_id, "shutdown")
        await finish(self._tasks)  # the view and session rows being closed


def _log_failure(task: asyncio.Task[None]) -> None:
    """A session task that failed is logged even when nobody awaits it (sfu events, a caller
    that was cancelled)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("webrtc_session_task_failed", exc_info=error)
