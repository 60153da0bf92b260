"""Per-subscriber delivery counters: what billing reads every second.

A second of media counts as received only when the viewer says so: the sfu notes, per
down-track, the sequence number of the first packet sent in each wall-clock second, and an RTCP
receiver report whose highest sequence number reaches it acknowledges that second (and every one
before it). A second left unacknowledged for longer than the acknowledgement window is reported
as such: the viewer is frozen, gone, or not reading its socket.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from sfu.rtp_rewrite import seq_diff


@dataclass(frozen=True)
class Delivery:
    """What one subscriber received since the previous take.

    packets, bytes, frames: sent toward it (frames: video frames whose marker bit was sent).
    seconds: wall-clock seconds (unix, increasing) in which media was sent to it and that it
      acknowledged since the previous take; each second is reported once.
    pending: seconds with media sent, not acknowledged yet, still within the window.
    unacknowledged: seconds whose window passed without an acknowledgement (never in seconds).
    ended: the subscriber is gone; this is its last delivery.
    """

    packets: int
    bytes: int
    frames: int
    seconds: tuple[int, ...] = ()
    pending: int = 0
    unacknowledged: int = 0
    ended: bool = False


class DeliveryCounter:
    """One down-track's counters behind :class:`Delivery`.

    Filled once per take from the fan-out target (which counts per packet in the fast path)
    and by retransmissions. ``marks`` holds, oldest first, (second, first sequence number sent
    in it) for every second not acknowledged yet; ``acked`` the seconds acknowledged since the
    previous take, and ``acked_through`` the latest second ever acknowledged on this track.
    """

    __slots__ = ("packets", "bytes", "frames", "marks", "acked", "acked_through", "_second")

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0
        self.frames = 0
        self.marks: deque[tuple[int, int]] = deque()
        self.acked: list[int] = []
        self.acked_through = -1
        self._second = -1

    def count(self, packets: int, size: int, frames: int) -> None:
        """``packets`` more packets of ``size`` bytes in all sent, ending ``frames`` frames."""
        self.packets += packets
        self.bytes += size
        self.frames += frames

    def mark(self, marks: Iterable[tuple[int, int]]) -> None:
        """Seconds in which new media was sent: (unix second, first sequence number in it)."""
        for second, sequence_number in marks:
            if second > self._second:  # a clock stepped back never reopens a second
                self._second = second
                self.marks.append((second, sequence_number))

    def acknowledge(self, highest_sequence: int) -> None:
        """An RTCP report block: the viewer received up to ``highest_sequence``.

        Compared on 16 bits: marks span at most the window, far less than 2^15 packets.
        """
        received = highest_sequence & 0xFFFF
        marks = self.marks
        while marks and seq_diff(received, marks[0][1]) >= 0:
            second = marks.popleft()[0]
            self.acked.append(second)
            self.acked_through = max(self.acked_through, second)

    def take_counts(self) -> tuple[int, int, int]:
        """(packets, bytes, frames) since the previous call, then reset."""
        counts = (self.packets, self.bytes, self.frames)
        self.packets = self.bytes = self.frames = 0
        return counts


class AcknowledgedSeconds:
    """A subscriber's seconds across its down-tracks: which were acknowledged, which expired.

    A second acknowledged on one track (video, usually) covers every track up to it: the viewer
    was receiving. Each acknowledged second is reported once, in increasing order.
    """

    __slots__ = ("reported_through",)

    def __init__(self) -> None:
        self.reported_through = -1

    def take(
        self, counters: Iterable[DeliveryCounter], now: float, window: float, closed: bool
    ) -> Delivery:
        """Everything since the previous take; ``closed``: no report can arrive any more."""
        counters = list(counters)
        through = max((c.acked_through for c in counters), default=-1)
        acked: set[int] = set()
        expired: set[int] = set()
        pending: set[int] = set()
        packets = size = frames = 0
        for counter in counters:
            p, b, f = counter.take_counts()
            packets, size, frames = packets + p, size + b, frames + f
            acked.update(counter.acked)
            counter.acked.clear()
            marks = counter.marks
            while marks and marks[0][0] <= through:
                acked.add(marks.popleft()[0])
            while marks and (closed or marks[0][0] + 1 + window <= now):
                expired.add(marks.popleft()[0])
            pending.update(second for second, _ in marks)
        seconds = tuple(sorted(s for s in acked if s > self.reported_through))
        if seconds:
            self.reported_through = seconds[-1]
        missed = len(expired - acked)
        return Delivery(packets, size, frames, seconds, len(pending), missed, closed)

    @staticmethod
    def settled(counters: Iterable[DeliveryCounter]) -> bool:
        """True when no second sent is still waiting for its acknowledgement."""
        counters = list(counters)
        through = max((c.acked_through for c in counters), default=-1)
        return all(not c.marks or c.marks[-1][0] <= through for c in counters)
