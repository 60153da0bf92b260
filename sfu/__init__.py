"""Media plane: a forwarding SFU on aiortc (RTP in, RTP out; never decoded or re-encoded).

Knows nothing of money, users, HTTP or PostgreSQL. Signaling calls :class:`Sfu` for WHIP
(publish) and WHEP (subscribe); billing reads :meth:`Sfu.take_delivery` (per subscriber, the
seconds of media it acknowledged with RTCP receiver reports, see sfu/delivery.py) and cuts
viewers with :meth:`Sfu.unsubscribe`; the recorder reads :meth:`Sfu.tap`. Between nodes, an edge's
:meth:`Sfu.relay` receives a stream its origin serves with ``Sfu.subscribe(..., relay=True)``
(sfu/relay.py).
"""

from sfu.delivery import Delivery
from sfu.depacketize import EncodedFrame
from sfu.errors import (
    AlreadyPublishing,
    BadCandidate,
    NotLive,
    RelayFailed,
    SfuError,
    UnknownPeer,
    UnsupportedOffer,
)
from sfu.events import SfuEvent
from sfu.ice import IceSettings
from sfu.relay import Exchange
from sfu.router import Sfu
from sfu.tap import StreamTap

__all__ = [
    "AlreadyPublishing",
    "BadCandidate",
    "Delivery",
    "EncodedFrame",
    "Exchange",
    "IceSettings",
    "NotLive",
    "RelayFailed",
    "Sfu",
    "SfuError",
    "SfuEvent",
    "StreamTap",
    "UnknownPeer",
    "UnsupportedOffer",
]
