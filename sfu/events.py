"""Things the sfu tells its owner about: a publisher or a subscriber ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventKind = Literal["publisher_ended", "subscriber_ended", "subscriber_connected"]


@dataclass(frozen=True)
class SfuEvent:
    """``publisher_ended``: peer_id is the publisher id; ``subscriber_ended`` and
    ``subscriber_connected`` (ICE and DTLS are up: media flows): the subscriber id.

    reason: "unpublished", "left", "cut", "failed" (ICE/DTLS failed), "closed" (peer closed
    DTLS), "publisher_ended" (a subscriber whose stream ended), "not_connected" (ICE/DTLS not
    up within the sfu's connect timeout), "shutdown"; "" for subscriber_connected.
    relay: the peer is a relay between nodes (sfu/relay.py): on an edge, the publisher fed by
    the origin; on an origin, the subscriber that feeds an edge.
    """

    kind: EventKind
    stream_id: str
    peer_id: str
    reason: str
    relay: bool = False
