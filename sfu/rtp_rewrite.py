"""Pure RTP byte work: parse a packet once, rebuild it per subscriber.

A forwarding SFU touches only the fixed header (SSRC, sequence number, timestamp, payload
type), the header extensions (ids differ per peer) and never the payload. Parsing happens once
per incoming packet (:func:`parse_rtp`); each subscriber then costs one :func:`rewrite_rtp`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

RTP_HEADER = struct.Struct("!BBHII")
EXTENSION_HEADER = struct.Struct("!HH")
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE_MASK = 0xFFF0
TWO_BYTE_PROFILE = 0x1000


@dataclass(frozen=True, slots=True)
class RtpView:
    """The parts of one received RTP packet that forwarding needs, without copying the payload."""

    data: bytes
    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    csrc_end: int
    extensions: tuple[tuple[int, bytes], ...]
    payload_start: int
    payload_end: int

    @property
    def payload(self) -> bytes:
        """The media payload (padding excluded)."""
        return self.data[self.payload_start : self.payload_end]


def seq_add(a: int, b: int) -> int:
    """16-bit sequence number addition."""
    return (a + b) & 0xFFFF


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b between two 16-bit sequence numbers (-32768..32767)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def ts_add(a: int, b: int) -> int:
    """32-bit timestamp addition."""
    return (a + b) & 0xFFFFFFFF


def _parse_extensions(data: bytes, start: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    """Parse an RFC 8285 extension block at ``start``; return elements and the offset after it."""
    if len(data) < start + 4:
        raise ValueError("RTP extension header truncated")
    profile, words = EXTENSION_HEADER.unpack_from(data, start)
    body_start = start + 4
    end = body_start + 4 * words
    if len(data) < end:
        raise ValueError("RTP extension body truncated")
    elements: list[tuple[int, bytes]] = []
    pos = body_start
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            ext_id, length = data[pos] >> 4, (data[pos] & 0x0F) + 1
            if ext_id == 0:  # padding byte
                pos += 1
                continue
            if ext_id == 15:  # reserved: stop parsing (RFC 8285 section 4.2)
                break
            elements.append((ext_id, data[pos + 1 : pos + 1 + length]))
            pos += 1 + length
    elif profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
        while pos + 1 < end:
            ext_id, length = data[pos], data[pos + 1]
            if ext_id == 0:
                pos += 1
                continue
            elements.append((ext_id, data[pos + 2 : pos + 2 + length]))
            pos += 2 + length
    return tuple(elements), end


def parse_rtp(data: bytes) -> RtpView:
    """Parse the header of an RTP packet; raises ValueError on malformed input."""
    if len(data) < 12:
        raise ValueError("RTP packet too short")
    b0, b1, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise ValueError("not RTP version 2")
    csrc_end = 12 + 4 * (b0 & 0x0F)
    extensions: tuple[tuple[int, bytes], ...] = ()
    payload_start = csrc_end
    if b0 & 0x10:
        extensions, payload_start = _parse_extensions(data, csrc_end)
    payload_end = len(data)
    if b0 & 0x20:
        if payload_end == payload_start:
            raise ValueError("RTP padding without payload")
        payload_end -= data[-1]
    if payload_end < payload_start:
        raise ValueError("RTP padding longer than payload")
    return RtpView(
        data=data,
        marker=bool(b1 & 0x80),
        payload_type=b1 & 0x7F,
        sequence_number=seq,
        timestamp=ts,
        ssrc=ssrc,
        csrc_end=csrc_end,
        extensions=extensions,
        payload_start=payload_start,
        payload_end=payload_end,
    )


def build_extension_block(elements: Iterable[tuple[int, bytes]]) -> bytes:
    """Encode elements as a one-byte-header extension block (ids 1..14, 1..16 bytes each)."""
    body = b"".join(
        bytes(((ext_id << 4) | (len(value) - 1),)) + value
        for ext_id, value in elements
        if 1 <= ext_id <= 14 and 1 <= len(value) <= 16
    )
    if not body:
        return b""
    body += b"\x00" * (-len(body) % 4)
    return EXTENSION_HEADER.pack(ONE_BYTE_PROFILE, len(body) // 4) + body


def map_extensions(
    view: RtpView, id_map: dict[int, int], extra: tuple[tuple[int, bytes], ...] = ()
) -> bytes:
    """Extension block for a peer: known ids renumbered, unknown ones dropped, ``extra`` added."""
    mapped = [(id_map[i], v) for i, v in view.extensions if i in id_map]
    return build_extension_block([*mapped, *extra])


def rewrite_rtp(
    view: RtpView,
    *,
    ssrc: int,
    sequence_number: int,
    timestamp: int,
    payload_type: int,
    extension_block: bytes,
    payload_prefix: bytes = b"",
) -> bytes:
    """Rebuild ``view`` with new header fields; payload bytes are copied unchanged, padding dropped.

    ``payload_prefix`` is put before the payload (the original sequence number of an RTX packet).
    """
    data = view.data
    b0 = 0x80 | (data[0] & 0x0F) | (0x10 if extension_block else 0)
    b1 = (0x80 if view.marker else 0) | payload_type
    return b"".join(
        (
            RTP_HEADER.pack(b0, b1, sequence_number, timestamp, ssrc),
            data[12 : view.csrc_end],
            extension_block,
            payload_prefix,
            data[view.payload_start : view.payload_end],
        )
    )


def unwrap_rtx(view: RtpView, payload_type: int, ssrc: int) -> RtpView:
    """Turn an RTX packet (RFC 4588) back into the original packet it retransmits."""
    if view.payload_end - view.payload_start < 2:
        raise ValueError("RTX packet without original sequence number")
    original_seq = struct.unpack_from("!H", view.data, view.payload_start)[0]
    rebuilt = rewrite_rtp(
        RtpView(
            data=view.data,
            marker=view.marker,
            payload_type=payload_type,
            sequence_number=original_seq,
            timestamp=view.timestamp,
            ssrc=ssrc,
            csrc_end=view.csrc_end,
            extensions=view.extensions,
            payload_start=view.payload_start + 2,
            payload_end=view.payload_end,
        ),
        ssrc=ssrc,
        sequence_number=original_seq,
        timestamp=view.timestamp,
        payload_type=payload_type,
        extension_block=build_extension_block(view.extensions),
    )
    return parse_rtp(rebuilt)


def rtx_prefix(sequence_number: int) -> bytes:
    """The two bytes an RTX payload starts with: the original sequence number."""
    return struct.pack("!H", sequence_number)
