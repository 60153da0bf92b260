"""ICE candidates from peers (offers and trickle PATCH bodies), checked before aioice sees them.

aiortc's parser takes any address, port and type: a candidate such as ``… 127.0.0.1 99999999
typ host`` is accepted and fails later inside aioice's background checks. Here a candidate is
malformed (the request is refused) or well-formed; well-formed ones the sfu cannot use (TCP,
RTCP component with rtcp-mux) are ignored, as RFC 8838 §11.4 lets an agent do.
"""

from __future__ import annotations

import ipaddress

from aiortc import RTCIceCandidate, RTCPeerConnection
from aiortc.sdp import candidate_from_sdp

from sfu.errors import BadCandidate

CANDIDATE_TYPES = ("host", "srflx", "prflx", "relay")
PREFIX = "a=candidate:"


def _address_ok(address: str) -> bool:
    if address.endswith(".local"):  # an mDNS host candidate (browsers hide local addresses)
        return True
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def candidate_problem(candidate: RTCIceCandidate) -> str:
    """Why ``candidate`` is malformed; "" when it is well-formed."""
    if candidate.type not in CANDIDATE_TYPES:
        return f"candidate type must be one of {', '.join(CANDIDATE_TYPES)}"
    if not 1 <= candidate.port <= 65535:
        return "candidate port must be 1-65535"
    if not _address_ok(candidate.ip):
        return "candidate address must be an IP address or an mDNS .local name"
    if not 1 <= candidate.component <= 256 or not 0 <= candidate.priority < 2**32:
        return "candidate component or priority out of range"
    if candidate.relatedPort is not None and not 0 <= candidate.relatedPort <= 65535:
        return "candidate rport must be 0-65535"
    return ""


def usable(candidate: RTCIceCandidate) -> bool:
    """UDP, RTP component (the sfu requires rtcp-mux and never connects over TCP)."""
    return candidate.protocol.lower() == "udp" and candidate.component == 1


def parse_candidate(value: str) -> RTCIceCandidate:
    """The candidate of an ``a=candidate:`` value; raise BadCandidate when malformed."""
    try:
        candidate = candidate_from_sdp(value)
    except (ValueError, IndexError, AssertionError):  # aiortc asserts on short lines
        raise BadCandidate("malformed a=candidate line") from None
    problem = candidate_problem(candidate)
    if problem:
        raise BadCandidate(problem)
    return candidate


def trickled_candidates(fragment: str) -> list[RTCIceCandidate]:
    """The usable candidates of a trickle-ice-sdpfrag body; raise BadCandidate on a bad one."""
    candidates = []
    for line in fragment.splitlines():
        line = line.strip()
        if line.startswith(PREFIX):
            candidate = parse_candidate(line[len(PREFIX) :])
            if usable(candidate):
                candidates.append(candidate)
    return candidates


async def add_trickled(pc: RTCPeerConnection, sdpfrag: str) -> None:
    """Add the candidates of a trickle PATCH body to ``pc``; raise BadCandidate for a malformed
    one (none is added then)."""
    candidates = trickled_candidates(sdpfrag)
    transceivers = pc.getTransceivers()
    for candidate in candidates if transceivers else ():
        candidate.sdpMid = transceivers[0].mid
        try:
            await pc.addIceCandidate(candidate)
        except ValueError as exc:  # aioice: after end-of-candidates
            raise BadCandidate(str(exc)) from None
