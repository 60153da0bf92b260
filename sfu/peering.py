"""Building peer connections from offers: a publisher's receive side, a subscriber's send side.

Each function applies the offer's accepted m-lines (see sfu/negotiation.py for the plan),
answers as DTLS server with the configured ICE settings, and hooks aiortc where media must go
around it (sfu/aiortc_hooks/). The Sfu (sfu/router.py) decides when; this module decides how.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import structlog
from aiortc import RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, OperationError

from sfu import aiortc_hooks
from sfu.downtrack import DownTrack, OutputFormat
from sfu.errors import UnsupportedOffer
from sfu.ice import IceSettings, announce_address
from sfu.mlines import MLine, answer_with_rejections, offer_subset, rejection_summary
from sfu.negotiation import MID_URI, NegotiatedTrack, negotiated_tracks
from sfu.published_track import PublishedTrack
from sfu.publisher import Publisher
from sfu.subscriber import HeldTrack, Subscriber

logger = structlog.get_logger(__name__)

INGEST_RCVBUF = 4 * 1024 * 1024
NEGOTIATION_ERRORS = (OperationError, InvalidAccessError, InternalError, ValueError, KeyError)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(16)}"


async def answer(pc: RTCPeerConnection, offer_sdp: str, plan: list[MLine], ice: IceSettings) -> str:
    """Apply the offer's accepted m-lines, answer as DTLS server with our ICE settings.

    Returns aiortc's answer (accepted m-lines only); :func:`client_answer` makes the one the
    peer gets.
    """
    try:
        subset = RTCSessionDescription(sdp=offer_subset(offer_sdp, plan), type="offer")
        await pc.setRemoteDescription(subset)
        aiortc_hooks.answer_as_dtls_server(pc)
        with aiortc_hooks.gather_on(ice.host_addresses):
            await pc.setLocalDescription(await pc.createAnswer())
    except NEGOTIATION_ERRORS as exc:
        raise UnsupportedOffer(f"offer rejected: {exc}") from exc
    return pc.localDescription.sdp


async def close_pc(pc: RTCPeerConnection) -> None:
    """Close ``pc``; a caller cancelled meanwhile (Sfu.close cancels its tasks) leaves it closing.

    aiortc's close() of a pc that is already closing (aiortc closes it itself once DTLS is
    closed) awaits the first close's future: cancelling that waiter cancels the future, and the
    first close then fails with InvalidStateError in a task nobody awaits.
    """
    await asyncio.shield(pc.close())


def client_answer(
    pc: RTCPeerConnection, offer_sdp: str, plan: list[MLine], ice: IceSettings
) -> str:
    """The answer for the peer: every offered m-line, those not served rejected (port 0)."""
    if not all(m.accepted for m in plan):
        logger.info("sfu_offer_mlines_rejected", rejected=rejection_summary(plan))
    local = announce_address(pc.localDescription.sdp, ice.announced_address)
    return answer_with_rejections(offer_sdp, local, plan)


@dataclass(frozen=True)
class TrackSettings:
    """How a publisher's incoming tracks are forwarded (the Sfu's settings)."""

    keyframe_interval: float
    native: bool
    max_packet_age: float


async def start_publisher(
    stream_id: str,
    pc: RTCPeerConnection,
    plan: list[MLine],
    sdp: str,
    ice: IceSettings,
    settings: TrackSettings,
) -> Publisher:
    """Receive the offer's accepted tracks on ``pc``; RTP goes to the publisher, undecoded."""
    for mline in plan:
        if mline.accepted:
            transceiver = pc.addTransceiver(mline.kind, direction="recvonly")
            transceiver.setCodecPreferences(list(mline.codecs))
    local = await answer(pc, sdp, plan, ice)
    return feed_publisher(new_id("pub"), stream_id, pc, negotiated_tracks(local), settings)


def feed_publisher(
    publisher_id: str,
    stream_id: str,
    pc: RTCPeerConnection,
    negotiated: dict[str, NegotiatedTrack],
    settings: TrackSettings,
) -> Publisher:
    """A publisher fed by the receiving tracks ``pc`` negotiated (both descriptions set):
    a publisher's answering pc or a relay's offering one (sfu/relay.py)."""
    publisher = Publisher(publisher_id, stream_id, pc)
    aiortc_hooks.enlarge_receive_buffers(pc, INGEST_RCVBUF)
    for transceiver in pc.getTransceivers():
        track = negotiated.get(transceiver.mid or "")
        if track is None:
            continue  # aiortc settled on no codec (the plan said it would)
        aiortc_hooks.disable_decoder(transceiver.receiver)
        publisher.add_track(
            PublishedTrack(
                track,
                transceiver.receiver,
                settings.keyframe_interval,
                native=settings.native,
                max_age=settings.max_packet_age,
            )
        )
    if "video" not in publisher.tracks:
        publisher.stop()
        raise UnsupportedOffer("offer sends no video")
    for transport in aiortc_hooks.dtls_transports(pc):
        aiortc_hooks.intercept_rtp(transport, publisher.on_rtp)
    return publisher


async def start_subscriber(
    publisher: Publisher,
    subscriber_id: str,
    pc: RTCPeerConnection,
    offer_sdp: str,
    plan: list[MLine],
    ice: IceSettings,
    relay: bool = False,
) -> Subscriber:
    """Send each of the publisher's tracks the offer accepts on ``pc``, one down-track each."""
    transceivers = {}
    for mline in plan:
        if mline.accepted:
            transceiver = pc.addTransceiver(HeldTrack(mline.kind), direction="sendonly")
            aiortc_hooks.drop_receive_state(transceiver.receiver)
            transceiver.setCodecPreferences(list(mline.codecs))
            transceivers[mline.kind] = transceiver
    negotiated = negotiated_tracks(await answer(pc, offer_sdp, plan, ice))
    subscriber = Subscriber(subscriber_id, publisher.stream_id, pc, relay)
    for kind, transceiver in transceivers.items():
        track = publisher.tracks[kind]
        mine = negotiated.get(transceiver.mid or "")
        if mine is None or mine.codec.name.lower() != track.codec_name.lower():
            raise UnsupportedOffer(f"the offer cannot receive {track.codec_name}")
        subscriber.add(track, _downtrack(track, mine, transceiver))
    return subscriber


def _downtrack(
    track: PublishedTrack, mine: NegotiatedTrack, transceiver: RTCRtpTransceiver
) -> DownTrack:
    sender = transceiver.sender
    ssrc, rtx_ssrc = aiortc_hooks.sender_ssrcs(sender)
    theirs = track.negotiated.extension_ids
    extension_map = {
        theirs[uri]: ext_id
        for uri, ext_id in mine.extension_ids.items()
        if uri in theirs and uri != MID_URI
    }
    extra: tuple[tuple[int, bytes], ...] = ()
    if MID_URI in mine.extension_ids:
        extra = ((mine.extension_ids[MID_URI], mine.mid.encode()),)
    fmt = OutputFormat(
        payload_type=mine.payload_type,
        rtx_payload_type=mine.rtx_payload_type,
        ssrc=ssrc,
        rtx_ssrc=rtx_ssrc,
        extension_map=extension_map,
        extension_extra=extra,
    )
    downtrack = DownTrack(
        track.kind,
        fmt,
        sender,
        output=aiortc_hooks.rtp_output(sender.transport),
        lookup=track.lookup,
        request_keyframe=track.request_keyframe,
        clock=asyncio.get_running_loop().time,
        sent_at=track.sent_at,
    )
    aiortc_hooks.intercept_sender(sender, downtrack.keyframe_requested, downtrack.retransmit)
    aiortc_hooks.intercept_receiver_reports(sender, downtrack.acknowledge)
    aiortc_hooks.intercept_sender_reports(sender, downtrack.refresh_sender_report)
    return downtrack
