"""Relays between nodes, the sfu's side: an edge receives a stream from the stream's origin.

The edge is the offerer: one recvonly audio and one recvonly video m-line, each offering every
codec the sfu forwards (the edge does not know which one the publisher chose), bundled on one
transport. How the offer reaches the origin is the caller's business (``exchange``: signaling
POSTs it to the origin node); the origin answers it with ``Sfu.subscribe(..., relay=True)``, as
an ordinary subscriber whose down-tracks speak the publisher's codec, and answers as DTLS server.

The edge then feeds a local Publisher with that connection exactly as a publisher's (see
:func:`sfu.peering.feed_publisher`): its viewers are ordinary subscribers, their keyframe requests
leave as PLI on the relay's receiver (merged by the track's KeyframeRequester) and the origin's
down-track merges them again toward the publisher. Nothing per packet is new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy

from sfu import aiortc_hooks
from sfu.errors import RelayFailed, UnsupportedOffer
from sfu.ice import IceSettings, announce_address, rtc_configuration
from sfu.negotiation import forwardable_capabilities, negotiated_tracks, rtx_capability
from sfu.peering import TrackSettings, feed_publisher, new_id
from sfu.publisher import Publisher

Exchange = Callable[[str], Awaitable[str]]
"""Sends the edge's offer SDP to the origin and returns the origin's answer SDP."""


def relay_configuration(ice: IceSettings) -> RTCConfiguration:
    """The sfu's ICE configuration, with audio and video on one transport (max-bundle)."""
    configuration = rtc_configuration(ice)
    configuration.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
    return configuration


async def relay_offer(pc: RTCPeerConnection, ice: IceSettings) -> str:
    """Set and return the edge's offer: receive audio and video in any forwarded codec."""
    for kind in ("audio", "video"):
        transceiver = pc.addTransceiver(kind, direction="recvonly")
        transceiver.setCodecPreferences(forwardable_capabilities(kind) + rtx_capability(kind))
    with aiortc_hooks.gather_on(ice.host_addresses):
        await pc.setLocalDescription(await pc.createOffer())
    return announce_address(pc.localDescription.sdp, ice.announced_address)


async def start_relay(
    stream_id: str,
    pc: RTCPeerConnection,
    exchange: Exchange,
    ice: IceSettings,
    settings: TrackSettings,
) -> Publisher:
    """Offer on ``pc``, get the origin's answer through ``exchange``, and return the local
    publisher it feeds. Errors of ``exchange`` propagate; a bad answer raises RelayFailed."""
    answer_sdp = await exchange(await relay_offer(pc, ice))
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        negotiated = negotiated_tracks(answer_sdp)
    except Exception as exc:  # aiortc raises assorted errors on a garbage answer
        raise RelayFailed(f"the origin's answer was rejected: {exc}") from exc
    try:
        publisher = feed_publisher(new_id("relay"), stream_id, pc, negotiated, settings)
    except UnsupportedOffer:
        raise RelayFailed("the origin's answer sends no video") from None
    publisher.relay = True
    return publisher
