"""Relays this node serves as a stream's origin: other nodes' sfus subscribed to its streams.

A relay is not a view: no stream_viewers row, no billing (the sfu never reports its delivery),
not in viewer counts (the sfu lists it apart). Each is an HTTP resource at
`/internal/relays/{stream_id}/{token}` that the edge DELETEs when it no longer needs it; it also
ends with the stream (the sfu ends every subscriber of an unpublished stream) or when its peer
goes away.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

import structlog
from prometheus_client import Counter

from sfu import Sfu, SfuEvent

logger = structlog.get_logger(__name__)

RELAYS_SERVED = Counter(
    "vilokanam_relays_served_total", "Relays to other nodes this node answered as a stream's origin"
)


@dataclass(frozen=True)
class ServedRelay:
    stream_id: uuid.UUID
    subscriber_id: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    @property
    def location(self) -> str:
        return f"/internal/relays/{self.stream_id}/{self.token}"


class ServedRelays:
    def __init__(self, sfu: Sfu) -> None:
        self.sfu = sfu
        self._by_token: dict[str, ServedRelay] = {}
        self._by_subscriber: dict[str, ServedRelay] = {}
        sfu.on_event(self._on_sfu_event)

    async def open(self, stream_id: uuid.UUID, offer: str) -> tuple[ServedRelay, str]:
        """Answer an edge's relay offer; raises sfu.NotLive / sfu.UnsupportedOffer."""
        subscriber_id, answer = await self.sfu.subscribe(str(stream_id), offer, relay=True)
        relay = ServedRelay(stream_id, subscriber_id)
        self._by_token[relay.token] = relay
        self._by_subscriber[subscriber_id] = relay
        RELAYS_SERVED.inc()
        logger.info("cluster_relay_served", stream_id=str(stream_id), subscriber_id=subscriber_id)
        return relay, answer

    def find(self, stream_id: uuid.UUID, token: str) -> ServedRelay | None:
        relay = self._by_token.get(token)
        return relay if relay is not None and relay.stream_id == stream_id else None

    async def close(self, relay: ServedRelay) -> None:
        """The edge no longer needs it: its media stops at once."""
        self._forget(relay)
        await self.sfu.unsubscribe(relay.subscriber_id, "relay_closed")  # a no-op once ended

    def count(self, stream_id: uuid.UUID) -> int:
        return len(self.sfu.subscribers(str(stream_id), relays=True))

    def _forget(self, relay: ServedRelay) -> None:
        self._by_token.pop(relay.token, None)
        self._by_subscriber.pop(relay.subscriber_id, None)

    def _on_sfu_event(self, event: SfuEvent) -> None:
        if event.kind == "subscriber_ended" and event.relay:
            relay = self._by_subscriber.get(event.peer_id)
            if relay is not None:
                self._forget(relay)
                logger.info(
                    "cluster_relay_unserved", stream_id=event.stream_id, reason=event.reason
                )
