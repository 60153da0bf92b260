"""Real image files for upload tests, made with PyAV and zlib (no fixtures on disk)."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction

import av
import numpy as np

RED, BLUE = (220, 20, 20), (20, 20, 220)


def halves_png(width: int = 400, height: int = 200) -> bytes:
    """A PNG whose left half is red and right half blue."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:, : width // 2] = RED
    pixels[:, width // 2 :] = BLUE
    encoder = av.CodecContext.create("png", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "rgb24"
    encoder.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
    return b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])


def huge_png(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of `side` x `side` pixels that compresses to some kilobytes: a picture
    that would take side² × 3 bytes once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = (b"\0" + bytes((side + 7) // 8)) * side
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def decode_rgb(data: bytes) -> np.ndarray:
    """The first picture of an image file as rows of RGB pixels."""
    import io

    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
    return frame.to_ndarray(format="rgb24")
