"""Depacketising RTP payloads back into whole encoded frames (for the in-process tap).

The recorder wants frames as a decoder or muxer takes them: VP8 frames without payload
descriptors, H.264 access units in Annex B form, Opus packets as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sfu.keyframes import H264_FU_A, H264_STAP_A, starts_keyframe, vp8_descriptor_length
from sfu.rtp_rewrite import RtpView, seq_add, seq_diff

START_CODE = b"\x00\x00\x00\x01"
# A packet up to this far behind the expected sequence number is late (a retransmission or a
# duplicate); further behind, the sender restarted its numbering and we follow it.
MAX_LATE_PACKETS = 1000


def vp8_depacketize(payload: bytes) -> bytes:
    """VP8 payload without its descriptor."""
    return payload[vp8_descriptor_length(payload) :]


def h264_depacketize(payload: bytes) -> bytes:
    """Annex B bytes carried by one H.264 RTP payload (single NAL, STAP-A or FU-A)."""
    if not payload:
        raise ValueError("empty H.264 payload")
    nal_type = payload[0] & 0x1F
    if nal_type == H264_STAP_A:
        parts = []
        pos = 1
        while pos + 2 <= len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            nal = payload[pos + 2 : pos + 2 + size]
            if len(nal) != size or not size:
                raise ValueError("STAP-A NAL truncated")
            parts.append(START_CODE + nal)
            pos += 2 + size
        return b"".join(parts)
    if nal_type == H264_FU_A:
        if len(payload) < 2:
            raise ValueError("FU-A truncated")
        if payload[1] & 0x80:  # start of the fragmented NAL: rebuild its header
            header = (payload[0] & 0xE0) | (payload[1] & 0x1F)
            return START_CODE + bytes((header,)) + payload[2:]
        return payload[2:]
    return START_CODE + payload


def depacketize(codec_name: str, payload: bytes) -> bytes:
    """Dispatch on codec name; audio payloads are returned unchanged."""
    if codec_name == "VP8":
        return vp8_depacketize(payload)
    if codec_name == "H264":
        return h264_depacketize(payload)
    return payload


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One whole encoded frame as the publisher sent it."""

    kind: str
    codec_name: str
    clock_rate: int
    timestamp: int
    keyframe: bool
    payload: bytes


@dataclass
class FrameAssembler:
    """Collects the packets of one track into frames.

    Video frames are only emitted from a keyframe on: a lost packet drops its frame and every
    frame after it until the next keyframe, because those frames would not decode.
    """

    kind: str
    codec_name: str
    clock_rate: int
    need_keyframe: bool = True
    _parts: list[bytes] = field(default_factory=list)
    _timestamp: int | None = None
    _next_seq: int | None = None
    _keyframe: bool = False
    _broken: bool = False

    def push(self, view: RtpView) -> EncodedFrame | None:
        """Add one packet (in arrival order); return a frame when one completes.

        A packet behind the expected sequence number is a duplicate or a late retransmission
        (Chromium probes bandwidth by resending packets over RTX): it is ignored, never
        allowed to break the frame being assembled. Padding-only packets take a number too.
        """
        payload = view.payload
        if self.kind == "audio":
            return self._frame(view.timestamp, False, payload) if payload else None
        if self._next_seq is not None and (
            -MAX_LATE_PACKETS <= seq_diff(view.sequence_number, self._next_seq) < 0
        ):
            return None
        if payload and view.timestamp != self._timestamp:
            self._begin(view.timestamp)
        starts_key = bool(payload) and starts_keyframe(self.codec_name, payload)
        if self._next_seq is not None and view.sequence_number != self._next_seq:
            self._lost(whole_before=starts_key and not self._parts)
        self._next_seq = seq_add(view.sequence_number, 1)
        if not payload:
            return None
        self._keyframe = self._keyframe or starts_key
        try:
            self._parts.append(depacketize(self.codec_name, payload))
        except ValueError:
            self._broken = True
        if not view.marker:
            return None
        return self._complete(view.timestamp)

    def _lost(self, *, whole_before: bool) -> None:
        """Packets were lost: later frames may reference what they carried. Only the frame
        being assembled survives, if the loss lies wholly before it (it starts a keyframe)."""
        self.need_keyframe = True
        if not whole_before:
            self._broken = True

    def _begin(self, timestamp: int) -> None:
        self._parts = []
        self._timestamp = timestamp
        self._keyframe = False
        self._broken = False

    def _complete(self, timestamp: int) -> EncodedFrame | None:
        payload = b"".join(self._parts)
        self._parts, self._timestamp = [], None
        if self._broken:
            self.need_keyframe = True
            return None
        if self.need_keyframe and not self._keyframe:
            return None
        self.need_keyframe = False
        return self._frame(timestamp, self._keyframe, payload)

    def _frame(self, timestamp: int, keyframe: bool, payload: bytes) -> EncodedFrame:
        return EncodedFrame(
            self.kind, self.codec_name, self.clock_rate, timestamp, keyframe, payload
        )
