"""After the fan-out dropped video packets: resume every viewer at a keyframe, without a gap.

A dropped packet breaks the reference chain of every later frame until a keyframe, for every
started viewer alike (they all miss the same packets). So, from the first drop on, nothing is
forwarded until a packet that starts a keyframe (asked for once, then again every
KEYFRAME_RETRY_SECONDS while none comes), and the sequence numbers skipped meanwhile are taken
out of what the viewers see: their numbering continues right after the last packet they got.
A gap would be answered by no retransmission (those packets were never kept) and some receivers
(aiortc's jitter buffer holds 512 video packets) would wait on it for seconds.

A drop never cuts a frame in two: a late packet of the frame the viewers already got the first
packets of is still forwarded (``completes_frame``), so what precedes the keyframe is whole.
"""

from __future__ import annotations

from collections.abc import Callable

from sfu.downtrack import KEYFRAME_RETRY_SECONDS
from sfu.rtp_rewrite import RtpView, seq_add, seq_diff


class Resync:
    """One video track's state: the last packet forwarded, and whether it waits for a keyframe."""

    def __init__(self, request_keyframe: Callable[[], None], clock: Callable[[], float]) -> None:
        self.waiting = False
        self._request_keyframe = request_keyframe
        self._clock = clock
        self._asked_at = 0.0
        self._last_seq: int | None = None
        self._open_frame: int | None = None  # timestamp of a frame forwarded in part

    def forwarded(self, view: RtpView) -> None:
        """``view`` went to the viewers."""
        self._last_seq = view.sequence_number
        self._open_frame = None if view.marker else view.timestamp

    def completes_frame(self, view: RtpView) -> bool:
        """True if ``view`` belongs to a frame the viewers got only the first packets of."""
        return view.timestamp == self._open_frame

    def dropped(self) -> None:
        """A packet was not forwarded: wait for a keyframe."""
        if not self.waiting:
            self.waiting = True
            self._ask()

    def resume(self, view: RtpView, keyframe: bool) -> int | None:
        """None while ``view`` must be skipped; else how many sequence numbers to take out
        before it (0 when nothing was skipped)."""
        if not self.waiting:
            return 0
        if not keyframe:
            if self._clock() - self._asked_at > KEYFRAME_RETRY_SECONDS:
                self._ask()
            return None
        self.waiting = False
        if self._last_seq is None:
            return 0
        return max(0, seq_diff(view.sequence_number, seq_add(self._last_seq, 1)))

    def _ask(self) -> None:
        self._asked_at = self._clock()
        self._request_keyframe()
