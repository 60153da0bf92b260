"""Recognising GStreamer's ``videotestsrc pattern=smpte`` in a decoded RGB image."""

from __future__ import annotations

import numpy as np

# The seven 75% bars across the top two thirds, as (red, green, blue) on/off.
SMPTE_BARS = (
    (1, 1, 1),  # grey
    (1, 1, 0),  # yellow
    (0, 1, 1),  # cyan
    (0, 1, 0),  # green
    (1, 0, 1),  # magenta
    (1, 0, 0),  # red
    (0, 0, 1),  # blue
)
ON, OFF = 140, 60  # 75% is ~191; codec and colour-space rounding stay far from these


def bar_colours(image: np.ndarray) -> list[tuple[int, ...] | None]:
    """(r, g, b) on/off of each bar's centre in an H×W×3 image; None where a channel is neither."""
    height, width, _ = image.shape
    bar_width = width / len(SMPTE_BARS)
    colours: list[tuple[int, ...] | None] = []
    for index in range(len(SMPTE_BARS)):
        left = int(index * bar_width + bar_width / 4)
        right = int((index + 1) * bar_width - bar_width / 4)
        means = image[height // 6 : height // 2, left:right].reshape(-1, 3).mean(axis=0)
        if any(OFF <= mean <= ON for mean in means):
            colours.append(None)
        else:
            colours.append(tuple(int(mean > ON) for mean in means))
    return colours


def shows_smpte_bars(image: np.ndarray) -> bool:
    return bar_colours(image) == list(SMPTE_BARS)
