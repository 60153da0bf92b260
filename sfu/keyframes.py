"""Keyframe detection on RTP payloads (VP8, H.264), without decoding.

A new subscriber is held until a packet that starts a keyframe, so its decoder never sees a
delta frame without its reference.
"""

from __future__ import annotations

H264_IDR = 5
H264_SPS = 7
H264_STAP_A = 24
H264_FU_A = 28


def vp8_descriptor_length(payload: bytes) -> int:
    """Length of the VP8 payload descriptor (RFC 7741 section 4.2); raises ValueError if short."""
    if not payload:
        raise ValueError("empty VP8 payload")
    size = 1
    if payload[0] & 0x80:  # X: extension byte present
        if len(payload) < 2:
            raise ValueError("VP8 descriptor truncated")
        ext = payload[1]
        size = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= size:
                raise ValueError("VP8 descriptor truncated")
            size += 2 if payload[size] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            size += 1
        if ext & 0x30:  # T or K: TID/KEYIDX byte
            size += 1
    if size > len(payload):
        raise ValueError("VP8 descriptor truncated")
    return size


def vp8_starts_keyframe(payload: bytes) -> bool:
    """True if this packet is the first packet of a VP8 keyframe."""
    try:
        offset = vp8_descriptor_length(payload)
    except ValueError:
        return False
    starts_partition_zero = payload[0] & 0x10 and payload[0] & 0x07 == 0
    # P bit of the VP8 frame header: 0 means key frame (RFC 6386 section 9.1).
    return bool(starts_partition_zero) and offset < len(payload) and payload[offset] & 0x01 == 0


def _stap_a_types(payload: bytes) -> list[int]:
    types = []
    pos = 1
    while pos + 2 < len(payload):
        size = (payload[pos] << 8) | payload[pos + 1]
        types.append(payload[pos + 2] & 0x1F)
        pos += 2 + size
    return types


def h264_starts_keyframe(payload: bytes) -> bool:
    """True if this packet starts an H.264 random access point (SPS or IDR slice start)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (H264_IDR, H264_SPS):
        return True
    if nal_type == H264_STAP_A:
        return any(t in (H264_IDR, H264_SPS) for t in _stap_a_types(payload))
    if nal_type == H264_FU_A and len(payload) > 1:
        start = payload[1] & 0x80
        return bool(start) and (payload[1] & 0x1F) in (H264_IDR, H264_SPS)
    return False


def starts_keyframe(codec_name: str, payload: bytes) -> bool:
    """Dispatch on codec name ("VP8", "H264"); other codecs (audio) never need a keyframe."""
    if codec_name == "VP8":
        return vp8_starts_keyframe(payload)
    if codec_name == "H264":
        return h264_starts_keyframe(payload)
    return False
