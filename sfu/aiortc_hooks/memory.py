"""What aiortc allocates per peer connection that the sfu never uses (issue 13: <= 200 KB a viewer).

- One DTLS certificate for every sfu peer connection (as Janus and mediasoup do: the fingerprint
  identifies the server, not the session; the peer still checks it against the SDP), with one
  OpenSSL context per SRTP profile list instead of one context per DTLS transport. The context
  releases a connection's idle read/write buffers (MODE_RELEASE_BUFFERS) and keeps no session
  cache (WebRTC never resumes a DTLS session; a shared context would otherwise keep every one).
  The certificate is replaced once half of its lifetime is gone: peer connections keep the one
  they started with.
- A sendonly transceiver's receiver (a viewer's) never receives RTP (aiortc registers it for
  RTP only in ``receive``), yet aiortc gives every video receiver a 512-slot jitter buffer and a
  remote bitrate estimator of 1000 rate buckets (~100 KB of Python objects).
"""

from __future__ import annotations

import datetime

from aiortc import RTCCertificate, RTCConfiguration, RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcdtlstransport import SRTPProtectionProfile
from OpenSSL import SSL

UNUSED_JITTER_CAPACITY = 2  # a power of 2, as JitterBuffer requires


class SharedCertificate(RTCCertificate):
    """A certificate whose OpenSSL context is built once per SRTP profile list and shared."""

    def __init__(self, certificate: RTCCertificate) -> None:
        super().__init__(key=certificate._key, cert=certificate._cert)
        self._contexts: dict[tuple[bytes, ...], SSL.Context] = {}

    def _create_ssl_context(self, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        profiles = tuple(profile.openssl_profile for profile in srtp_profiles)
        context = self._contexts.get(profiles)
        if context is None:
            context = super()._create_ssl_context(srtp_profiles)
            context.set_mode(SSL.MODE_RELEASE_BUFFERS)
            context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
            self._contexts[profiles] = context
        return context


_shared: SharedCertificate | None = None


def shared_certificate() -> SharedCertificate:
    """The sfu's DTLS certificate: renewed once half of its lifetime (aiortc's: 30 days) is gone."""
    global _shared
    if _shared is None or datetime.datetime.now(tz=datetime.UTC) >= _renew_at(_shared):
        _shared = SharedCertificate(RTCCertificate.generateCertificate())
    return _shared


def _renew_at(certificate: RTCCertificate) -> datetime.datetime:
    not_before: datetime.datetime = certificate._cert.not_valid_before_utc
    return not_before + (certificate.expires - not_before) / 2


def sfu_peer_connection(configuration: RTCConfiguration) -> RTCPeerConnection:
    """A peer connection whose DTLS transports use :func:`shared_certificate`.

    aiortc generates a certificate in the constructor and hands it to each DTLS transport it
    creates later (in addTransceiver / setRemoteDescription), so swapping it here is in time.
    """
    pc = RTCPeerConnection(configuration)
    pc._RTCPeerConnection__certificates = [shared_certificate()]  # type: ignore[attr-defined]
    return pc


def drop_receive_state(receiver: RTCRtpReceiver) -> None:
    """Free what a sendonly transceiver's receiver holds for RTP it will never get."""
    receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]
    receiver._RTCRtpReceiver__jitter_buffer = JitterBuffer(  # type: ignore[attr-defined]
        capacity=UNUSED_JITTER_CAPACITY
    )
