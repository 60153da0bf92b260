"""SDP decisions: which codecs a peer may use, and what an answer finally negotiated.

Only public aiortc objects are used here (``aiortc.sdp`` parsing, codec capabilities).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.sdp import (
    H264Profile,
    MediaDescription,
    SessionDescription,
    parse_h264_profile_level_id,
)

from sfu.candidates import candidate_problem
from sfu.errors import UnsupportedOffer
from sfu.mlines import MLine, Sdp, rejection_summary

FORWARDED_CODECS = {"video": ("video/vp8", "video/h264"), "audio": ("audio/opus",)}
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"


@dataclass(frozen=True)
class NegotiatedTrack:
    """What one m-line of an answer settled on."""

    kind: str
    mid: str
    codec: RTCRtpCodecParameters
    payload_type: int  # codec.payloadType, which an answer always sets
    rtx_payload_type: int | None
    extension_ids: dict[str, int]  # uri -> id


def parse_offer(sdp: str) -> SessionDescription:
    """Parse an offer; raise UnsupportedOffer if it is not SDP with at least one m-line."""
    try:
        description = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises assorted errors on garbage input
        raise UnsupportedOffer(f"not an SDP offer: {type(exc).__name__}") from exc
    if not sdp.lstrip().startswith("v=0") or not description.media:
        raise UnsupportedOffer("not an SDP offer")
    for media in description.media:
        for candidate in media.ice_candidates:
            if problem := candidate_problem(candidate):
                raise UnsupportedOffer(f"bad candidate in offer: {problem}")
    return description


def _refusal(
    media: MediaDescription, bundle_only: bool, served: set[str], directions: tuple[str, ...]
) -> str:
    """Why an m-line cannot be served whatever its codecs ("" when it may be)."""
    if media.kind not in FORWARDED_CODECS:
        return "the sfu forwards audio and video only"
    if media.port == 0 and not bundle_only:  # bundle-only m-lines have port 0 (RFC 8843 §6)
        return "rejected by the offer (port 0)"
    if media.dtls is None or not media.dtls.fingerprints:  # aiortc fails on either
        return "no DTLS a=setup and a=fingerprint"
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        return "no a=ice-ufrag and a=ice-pwd"
    direction = media.direction or "sendrecv"
    if direction not in directions:
        return f"direction {direction}"
    if media.kind in served:
        return f"one {media.kind} m-line only"
    return ""


def _plan(
    offer_sdp: str,
    directions: tuple[str, ...],
    codecs_for: Callable[[MediaDescription], tuple[list[RTCRtpCodecCapability], str]],
) -> list[MLine]:
    offer = parse_offer(offer_sdp)
    sections = Sdp.split(offer_sdp).sections
    if len(sections) != len(offer.media):
        raise UnsupportedOffer("not an SDP offer: m-lines cannot be told apart")
    plan: list[MLine] = []
    served: set[str] = set()
    for index, media in enumerate(offer.media):
        bundle_only = "a=bundle-only" in sections[index]
        reason = _refusal(media, bundle_only, served, directions)
        codecs: list[RTCRtpCodecCapability] = []
        if not reason:
            codecs, reason = codecs_for(media)
        if not reason:
            served.add(media.kind)
        plan.append(MLine(index, media.kind, media.rtp.muxId, not reason, reason, tuple(codecs)))
    return plan


def plan_publish(offer_sdp: str) -> list[MLine]:
    """Which m-lines of a publisher's offer the sfu receives: the first sending audio and video
    with a forwardable codec; raise UnsupportedOffer when no video can be received."""

    def codecs_for(media: MediaDescription) -> tuple[list[RTCRtpCodecCapability], str]:
        codecs = publisher_preferences(media)
        names = sorted({c.name for c in media.rtp.codecs})
        return codecs, "" if codecs else f"no forwardable {media.kind} codec in offer: {names}"

    plan = _plan(offer_sdp, ("sendonly", "sendrecv"), codecs_for)
    if not any(m.accepted and m.kind == "video" for m in plan):
        summary = rejection_summary(plan)
        raise UnsupportedOffer(f"offer sends no video the sfu can forward: {summary}")
    return plan


def plan_subscribe(offer_sdp: str, published: dict[str, RTCRtpCodecParameters]) -> list[MLine]:
    """Which m-lines of a viewer's offer the sfu sends: the first receiving each published kind
    in the publisher's codec; raise UnsupportedOffer when none can be served."""

    def codecs_for(media: MediaDescription) -> tuple[list[RTCRtpCodecCapability], str]:
        codec = published.get(media.kind)
        if codec is None:
            return [], f"the stream has no {media.kind}"
        capability = capability_of(codec)
        if not any(_compatible(capability, offered) for offered in media.rtp.codecs):
            return [], f"the offer cannot receive {codec.name}"
        return [capability, *rtx_capability(media.kind)], ""

    plan = _plan(offer_sdp, ("recvonly", "sendrecv"), codecs_for)
    if not any(m.accepted for m in plan):
        raise UnsupportedOffer(f"nothing in the offer can be served: {rejection_summary(plan)}")
    return plan


def _capabilities(kind: str) -> list[RTCRtpCodecCapability]:
    return RTCRtpSender.getCapabilities(kind).codecs


def rtx_capability(kind: str) -> list[RTCRtpCodecCapability]:
    """aiortc's RTX capability for ``kind`` (empty for audio)."""
    return [c for c in _capabilities(kind) if c.name.lower() == "rtx"]


def _compatible(capability: RTCRtpCodecCapability, offered: RTCRtpCodecParameters) -> bool:
    if capability.mimeType.lower() != offered.mimeType.lower():
        return False
    if capability.clockRate != offered.clockRate:
        return False
    if capability.mimeType.lower() != "video/h264":
        return True
    mode = str(offered.parameters.get("packetization-mode", "0"))
    if mode != str(capability.parameters.get("packetization-mode")):
        return False
    try:
        return _h264_profile(offered) == _h264_profile(capability)
    except ValueError:
        return False


def _h264_profile(codec: RTCRtpCodecCapability | RTCRtpCodecParameters) -> H264Profile:
    # No profile-level-id means constrained baseline level 3.1 (as aiortc assumes).
    return parse_h264_profile_level_id(str(codec.parameters.get("profile-level-id", "42e01f")))[0]


def publisher_preferences(media: MediaDescription) -> list[RTCRtpCodecCapability]:
    """The one codec (plus RTX) a publisher's m-line will use: the first forwardable it offers
    (none: empty).

    One codec only, so every packet of the track has the codec subscribers negotiate.
    """
    allowed = forwardable_capabilities(media.kind)
    for offered in media.rtp.codecs:
        match = next((c for c in allowed if _compatible(c, offered)), None)
        if match is not None:
            return [match, *rtx_capability(media.kind)]
    return []


def forwardable_capabilities(kind: str) -> list[RTCRtpCodecCapability]:
    """aiortc's capabilities for ``kind`` that the sfu forwards (RTX not included)."""
    return [c for c in _capabilities(kind) if c.mimeType.lower() in FORWARDED_CODECS[kind]]


def capability_of(codec: RTCRtpCodecParameters) -> RTCRtpCodecCapability:
    """The capability a negotiated codec came from (to offer the same to subscribers)."""
    for capability in _capabilities(codec.mimeType.split("/")[0]):
        if (
            capability.mimeType.lower() == codec.mimeType.lower()
            and capability.parameters == codec.parameters
        ):
            return capability
    raise UnsupportedOffer(f"codec {codec.mimeType} is not forwardable")


def negotiated_tracks(answer_sdp: str) -> dict[str, NegotiatedTrack]:
    """Per mid: codec, RTX payload type and header extension ids an answer settled on."""
    tracks = {}
    for media in SessionDescription.parse(answer_sdp).media:
        if media.kind not in ("audio", "video") or media.direction == "inactive":
            continue
        primary = next((c for c in media.rtp.codecs if c.name.lower() != "rtx"), None)
        if primary is None or primary.payloadType is None or media.rtp.muxId is None:
            continue  # an answer's codecs always carry their payload type
        rtx = next(
            (
                c.payloadType
                for c in media.rtp.codecs
                if c.name.lower() == "rtx" and c.parameters.get("apt") == primary.payloadType
            ),
            None,
        )
        tracks[media.rtp.muxId] = NegotiatedTrack(
            kind=media.kind,
            mid=media.rtp.muxId,
            codec=primary,
            payload_type=primary.payloadType,
            rtx_payload_type=rtx,
            extension_ids={e.uri: e.id for e in media.rtp.headerExtensions},
        )
    return tracks
