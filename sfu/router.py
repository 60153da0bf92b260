"""The Sfu: streams -> publisher -> subscribers, and the surface signaling calls.

Peer connections are built in sfu/peering.py; media never passes through here (publisher.py,
downtrack.py forward it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from aiortc import RTCConfiguration, RTCPeerConnection

from sfu import aiortc_hooks
from sfu.candidates import add_trickled
from sfu.delivery import Delivery
from sfu.errors import AlreadyPublishing, NotLive, UnknownPeer, UnsupportedOffer
from sfu.events import EventKind, SfuEvent
from sfu.ice import IceSettings, rtc_configuration
from sfu.negotiation import plan_publish, plan_subscribe
from sfu.peering import (
    TrackSettings,
    client_answer,
    close_pc,
    new_id,
    start_publisher,
    start_subscriber,
)
from sfu.published_track import MAX_PACKET_AGE_S, use_native
from sfu.publisher import Publisher
from sfu.relay import Exchange, relay_configuration, start_relay
from sfu.subscriber import Subscriber
from sfu.tap import StreamTap
from sfu.udp_mux import MuxStats, UdpMux

logger = structlog.get_logger(__name__)

ACK_WINDOW_S = 3.0
DRAIN_POLL_S = 0.1
ENDED_KEPT_S = 60.0
"""A closed subscriber nobody took the last delivery of is dropped after this long."""
UNREACHABLE = ("failed", "closed", "shutdown")
"""Reasons a subscriber ends after which no RTCP report can arrive: closed without a drain."""


class Sfu:
    """A forwarding SFU: RTP from one publisher per stream to its subscribers, never decoded.

    fanout: "native" (compiled, the default when built) or "python" fan-out (sfu/fanout.py).
    max_packet_age: seconds a packet may wait for its fan-out before it is dropped (video then
      resumes at a keyframe it asks for; see sfu/published_track.py).
    keyframe_interval: minimum seconds between two keyframe requests to a publisher.
    ack_window: seconds after a second ends within which the viewer must acknowledge it (RTCP
      receiver reports); a subscriber that ends is kept this long at most to hear its last ones.
    connect_timeout: seconds a new publisher or subscriber has to bring ICE and DTLS up; one
    that has not is ended (reason "not_connected"): an offer alone holds no stream or view.
    """

    def __init__(
        self,
        ice: IceSettings,
        *,
        fanout: str | None = None,
        max_packet_age: float = MAX_PACKET_AGE_S,
        keyframe_interval: float = 0.5,
        ack_window: float = ACK_WINDOW_S,
        connect_timeout: float = 15.0,
    ) -> None:
        aiortc_hooks.install_host_address_hook()
        aiortc_hooks.install_udp_mux_hook()
        self.ice = ice
        # Bound now, so a taken port fails at start rather than at the first viewer.
        self._mux = UdpMux(ice.host_addresses, ice.udp_port) if ice.udp_port is not None else None
        self.native = use_native(fanout)
        self.max_packet_age = max_packet_age
        self.keyframe_interval = keyframe_interval
        self.ack_window = ack_window
        self.connect_timeout = connect_timeout
        self._publishers: dict[str, Publisher] = {}  # by stream id
        self._reserved: set[str] = set()
        self._subscribers: dict[str, Subscriber] = {}
        self._ended: dict[str, Subscriber] = {}  # gone, but their last delivery is not taken
        self._callbacks: list[Callable[[SfuEvent], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # --- events -------------------------------------------------------------------------------

    def on_event(self, callback: Callable[[SfuEvent], None]) -> None:
        """Call ``callback`` for publisher_ended / subscriber_ended / subscriber_connected."""
        self._callbacks.append(callback)

    def _emit(self, kind: EventKind, peer: Publisher | Subscriber, reason: str = "") -> None:
        peer_id = peer.publisher_id if isinstance(peer, Publisher) else peer.subscriber_id
        event = SfuEvent(kind, peer.stream_id, peer_id, reason, peer.relay)
        logger.info("sfu_peer_event", **dataclasses.asdict(event))
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception:
                logger.exception("sfu_event_callback_failed", kind=event.kind)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end_if_not_connected(self, peer: Publisher | Subscriber) -> None:
        await asyncio.sleep(self.connect_timeout)
        if peer.connected:
            return
        logger.info(
            "sfu_peer_not_connected", stream_id=peer.stream_id, timeout_s=self.connect_timeout
        )
        if isinstance(peer, Publisher):
            await self._end_stream(peer, "not_connected")
        elif self._subscribers.get(peer.subscriber_id) is peer:
            await self.unsubscribe(peer.subscriber_id, "not_connected")

    # --- publishing -----------------------------------------------------------------------------

    def is_live(self, stream_id: str) -> bool:
        """True while the stream has a publisher."""
        return stream_id in self._publishers

    async def publish(self, stream_id: str, offer_sdp: str) -> tuple[str, str]:
        """Accept a publisher's offer (WHIP); return (publisher_id, answer_sdp)."""
        if stream_id in self._publishers or stream_id in self._reserved:
            raise AlreadyPublishing(stream_id)
        plan = plan_publish(offer_sdp)
        publisher = await self._start_publisher(
            stream_id,
            rtc_configuration(self.ice),
            lambda pc: start_publisher(stream_id, pc, plan, offer_sdp, self.ice, self._settings),
        )
        return publisher.publisher_id, client_answer(publisher.pc, offer_sdp, plan, self.ice)

    async def relay(self, stream_id: str, exchange: Exchange) -> str:
        """Receive ``stream_id`` from its origin node as if published here (sfu/relay.py):
        ``exchange`` takes our offer, returns the origin's ``subscribe(..., relay=True)`` answer.
        ``unpublish`` closes the relay; its end emits publisher_ended. Returns its publisher id;
        raises AlreadyPublishing, RelayFailed, or what ``exchange`` raises."""
        publisher = await self._start_publisher(
            stream_id,
            relay_configuration(self.ice),
            lambda pc: start_relay(stream_id, pc, exchange, self.ice, self._settings),
        )
        return publisher.publisher_id

    @property
    def _settings(self) -> TrackSettings:
        return TrackSettings(self.keyframe_interval, self.native, self.max_packet_age)

    async def _start_publisher(
        self,
        stream_id: str,
        configuration: RTCConfiguration,
        start: Callable[[RTCPeerConnection], Awaitable[Publisher]],
    ) -> Publisher:
        """Run ``start`` on a new sfu peer connection; the stream is reserved meanwhile."""
        if stream_id in self._publishers or stream_id in self._reserved:
            raise AlreadyPublishing(stream_id)
        self._reserved.add(stream_id)
        pc = aiortc_hooks.sfu_peer_connection(configuration)
        try:
            await self._start_mux()
            with aiortc_hooks.gather_through(self._mux):
                publisher = await start(pc)
        except BaseException:
            await pc.close()
            raise
        finally:
            self._reserved.discard(stream_id)
        pc.on("connectionstatechange", lambda: self._publisher_state(publisher))
        self._publishers[stream_id] = publisher
        self._spawn(self._end_if_not_connected(publisher))
        logger.info(
            "sfu_publisher_started", stream_id=stream_id, publisher_id=publisher.publisher_id
        )
        return publisher

    def _publisher_state(self, publisher: Publisher) -> None:
        state = publisher.pc.connectionState
        if state == "connected":
            publisher.connected = True
        elif state in ("failed", "closed"):
            self._spawn(self._end_stream(publisher, state))  # no-op once it has ended

    async def unpublish(self, stream_id: str) -> None:
        """End the stream: every subscriber's media ends cleanly (RTCP BYE, DTLS close)."""
        publisher = self._publishers.get(stream_id)
        if publisher is not None:
            await self._end_stream(publisher, "unpublished")

    async def _end_stream(self, publisher: Publisher, reason: str) -> None:
        if self._publishers.get(publisher.stream_id) is not publisher:
            return
        del self._publishers[publisher.stream_id]
        publisher.stop()
        subscribers = [
            s for s, sub in self._subscribers.items() if sub.stream_id == publisher.stream_id
        ]
        await asyncio.gather(
            *(self.unsubscribe(s, "publisher_ended") for s in subscribers),
            close_pc(publisher.pc),
        )
        self._emit("publisher_ended", publisher, reason)

    # --- subscribing ----------------------------------------------------------------------------

    async def subscribe(
        self, stream_id: str, offer_sdp: str, subscriber_id: str | None = None, relay: bool = False
    ) -> tuple[str, str]:
        """Accept a viewer's offer (WHEP); return (subscriber_id, answer_sdp).

        ``relay``: the offer is another node's sfu relaying the stream (``Sfu.relay``); it is
        listed by ``subscribers(..., relays=True)`` only and never in ``take_delivery``.
        """
        publisher = self._publishers.get(stream_id)
        if publisher is None:
            raise NotLive(stream_id)
        published = {kind: track.negotiated.codec for kind, track in publisher.tracks.items()}
        plan = plan_subscribe(offer_sdp, published)
        subscriber_id = subscriber_id or new_id("sub")
        if subscriber_id in self._subscribers:
            raise UnsupportedOffer(f"subscriber id already in use: {subscriber_id}")
        pc = aiortc_hooks.sfu_peer_connection(rtc_configuration(self.ice))
        try:
            await self._start_mux()
            with aiortc_hooks.gather_through(self._mux):
                subscriber = await start_subscriber(
                    publisher, subscriber_id, pc, offer_sdp, plan, self.ice, relay
                )
        except BaseException:
            await pc.close()
            raise
        if self._publishers.get(stream_id) is not publisher:
            await pc.close()  # the stream ended while we negotiated
            raise NotLive(stream_id)
        self._subscribers[subscriber_id] = subscriber
        subscriber.attach()
        pc.on("connectionstatechange", lambda: self._subscriber_state(subscriber))
        self._spawn(self._end_if_not_connected(subscriber))
        logger.info(
            "sfu_subscriber_started",
            stream_id=stream_id,
            subscriber_id=subscriber_id,
            relay=relay,
        )
        return subscriber_id, client_answer(pc, offer_sdp, plan, self.ice)

    def _subscriber_state(self, subscriber: Subscriber) -> None:
        state = subscriber.pc.connectionState
        if self._subscribers.get(subscriber.subscriber_id) is not subscriber:
            return
        if state == "connected":
            first = not subscriber.connected
            subscriber.activate()
            if first:
                self._emit("subscriber_connected", subscriber)
        elif state in ("failed", "closed"):
            self._spawn(self.unsubscribe(subscriber.subscriber_id, state))

    async def unsubscribe(self, subscriber_id: str, reason: str = "left") -> None:
        """Remove a subscriber ("left", or "cut" by billing): its media stops at once.

        Its peer connection stays open until the viewer acknowledged what it was sent (at most
        `ack_window` seconds), so the seconds it received before leaving still count.
        """
        subscriber = self._subscribers.pop(subscriber_id, None)
        if subscriber is None:
            return
        subscriber.detach()
        self._drop_untaken()
        if not subscriber.relay:  # a relay's delivery is never taken: nothing to wait for
            self._ended[subscriber_id] = subscriber
        self._emit("subscriber_ended", subscriber, reason)
        if reason in UNREACHABLE or subscriber.relay or subscriber.settled():
            await self._close_subscriber(subscriber)
        else:
            self._spawn(self._drain(subscriber))

    async def _drain(self, subscriber: Subscriber) -> None:
        """Wait for the last receiver reports of an ended subscriber, then close it."""
        try:
            for _ in range(math.ceil(self.ack_window / DRAIN_POLL_S)):
                if subscriber.settled() or subscriber.pc.connectionState in ("failed", "closed"):
                    break
                await asyncio.sleep(DRAIN_POLL_S)
        finally:
            await self._close_subscriber(subscriber)

    async def _close_subscriber(self, subscriber: Subscriber) -> None:
        subscriber.closed = True  # its next delivery is its last
        subscriber.closed_at = time.monotonic()
        await close_pc(subscriber.pc)

    def _drop_untaken(self) -> None:
        """Forget closed subscribers whose last delivery nobody took (no billing running)."""
        stale = time.monotonic() - ENDED_KEPT_S
        for subscriber_id, subscriber in list(self._ended.items()):
            if subscriber.closed and subscriber.closed_at < stale:
                del self._ended[subscriber_id]

    def subscribers(
        self, stream_id: str, connected_only: bool = False, relays: bool = False
    ) -> list[str]:
        """Ids of the current viewers of ``stream_id`` (whose ICE and DTLS came up, if
        ``connected_only``: the viewers who actually watch); of its relays to other nodes
        instead if ``relays``."""
        return [
            s.subscriber_id
            for s in self._subscribers.values()
            if s.stream_id == stream_id
            and s.relay == relays
            and (s.connected or not connected_only)
        ]

    def take_delivery(self) -> dict[str, Delivery]:
        """Per viewer, what was sent and acknowledged since the previous call (then reset).

        Every current viewer is listed (zeros when nothing reached it); one that left stays
        listed until its peer connection is closed, the last time with ``ended``. Relays are
        never listed: nothing is billed for them.
        """
        now = time.time()
        window = self.ack_window
        taken = {sid: s.take_delivery(now, window) for sid, s in self._subscribers.items()}
        for relay in [sid for sid, s in self._subscribers.items() if s.relay]:
            del taken[relay]  # taken all the same, so that its counters are reset
        for subscriber_id, subscriber in list(self._ended.items()):
            taken[subscriber_id] = subscriber.take_delivery(now, window)
            if subscriber.closed:
                del self._ended[subscriber_id]
        return taken

    # --- the shared UDP port ------------------------------------------------------------------

    async def _start_mux(self) -> None:
        if self._mux is not None:
            await self._mux.start()

    @property
    def udp_port(self) -> int | None:
        """The UDP port every peer connection's host candidates share (None: no mux)."""
        return self._mux.port if self._mux is not None else None

    def udp_mux_stats(self) -> MuxStats | None:
        """Peer connections registered on the shared port, remote addresses, datagrams dropped."""
        return self._mux.stats() if self._mux is not None else None

    # --- trickle, tap, shutdown -----------------------------------------------------------------

    def _peer(self, peer_id: str) -> RTCPeerConnection:
        subscriber = self._subscribers.get(peer_id)
        if subscriber is not None:
            return subscriber.pc
        for publisher in self._publishers.values():
            if publisher.publisher_id == peer_id:
                return publisher.pc
        raise UnknownPeer(peer_id)

    async def add_ice_candidates(self, peer_id: str, sdpfrag: str) -> None:
        """Add trickled candidates from a WHIP/WHEP PATCH body (``a=candidate:`` lines).

        Raises UnknownPeer, or BadCandidate for a malformed candidate (none is added then).
        """
        await add_trickled(self._peer(peer_id), sdpfrag)

    def tap(self, stream_id: str) -> StreamTap:
        """In-process tap of a live stream (the recorder); raises NotLive."""
        publisher = self._publishers.get(stream_id)
        if publisher is None:
            raise NotLive(stream_id)
        return publisher.tap()

    def stats(self, stream_id: str) -> dict[str, int]:
        """Forwarding statistics of a stream (packets received, keyframe requests sent, ...)."""
        publisher = self._publishers.get(stream_id)
        if publisher is None:
            raise NotLive(stream_id)
        return publisher.stats()

    async def close(self) -> None:
        """End every stream and subscriber."""
        for publisher in list(self._publishers.values()):
            await self._end_stream(publisher, "shutdown")
        for subscriber_id in list(self._subscribers):
            await self.unsubscribe(subscriber_id, "shutdown")
        for task in list(self._tasks):
            task.cancel()
        for subscriber in list(self._ended.values()):
            if not subscriber.closed:
                await self._close_subscriber(subscriber)
        if self._mux is not None:
            await self._mux.close()
