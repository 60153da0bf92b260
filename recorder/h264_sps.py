"""Picture size from an H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1), no decoder.

The archive writer must declare a track's size when it opens a Matroska file; for H.264 the
size is in the SPS at the start of every keyframe the sfu forwards (Annex-B access units).
"""

from __future__ import annotations

# Profiles whose SPS carries chroma format, bit depths and scaling matrices.
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}
_START_CODE = b"\x00\x00\x01"  # a four-byte start code is a zero byte before this one


class _Bits:
    """Big-endian bit reader with Exp-Golomb codes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bit(self) -> int:
        if self.pos >= len(self.data) * 8:
            raise ValueError("SPS ended early")
        value = self.data[self.pos >> 3] >> (7 - (self.pos & 7)) & 1
        self.pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = value << 1 | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("bad Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def nal_units(access_unit: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte stream (start codes 00 00 01 or 00 00 00 01)."""
    # bytes.find, not a Python loop over every byte: a keyframe is tens of kilobytes and this
    # runs on the event loop that forwards media.
    units = []
    start = access_unit.find(_START_CODE)
    while start != -1:
        start += len(_START_CODE)
        end = access_unit.find(_START_CODE, start)
        unit = access_unit[start:] if end == -1 else access_unit[start:end].rstrip(b"\x00")
        if unit:
            units.append(unit)
        start = end
    return units


def _unescape(nal: bytes) -> bytes:
    """Drop emulation-prevention bytes (00 00 03 → 00 00)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale or last


def sps_size(sps: bytes) -> tuple[int, int]:
    """(width, height) in pixels of an SPS NAL unit (header byte included)."""
    bits = _Bits(_unescape(sps)[1:])
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            bits.bit()  # separate_colour_plane_flag
        bits.ue()
        bits.ue()  # bit depths
        bits.bit()  # qpprime_y_zero_transform_bypass_flag
        if bits.bit():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if bits.bit():
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.bit()
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.bit()
    if not frame_mbs_only:
        bits.bit()  # mb_adaptive_frame_field_flag
    bits.bit()  # direct_8x8_inference_flag
    crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue()) if bits.bit() else (0, 0, 0, 0)
    unit_x = 2 if chroma_format in (1, 2) else 1
    unit_y = (2 if chroma_format == 1 else 1) * (2 - frame_mbs_only)
    width = width_mbs * 16 - (crop[0] + crop[1]) * unit_x
    height = (2 - frame_mbs_only) * height_units * 16 - (crop[2] + crop[3]) * unit_y
    return width, height


def h264_picture_size(access_unit: bytes) -> tuple[int, int] | None:
    """Size from the first SPS in an Annex-B access unit; None when it has none."""
    for nal in nal_units(access_unit):
        if nal[0] & 0x1F == 7:
            return sps_size(nal)
    return None
