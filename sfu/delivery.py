"""Per-subscriber delivery counters: what billing reads every second."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    """What one subscriber received in an interval.

    frames: video frames completed (marker bit sent) toward this subscriber.
    """

    packets: int
    bytes: int
    frames: int


class DeliveryCounter:
    """Mutable counters behind :class:`Delivery`; :meth:`take` reads and resets them."""

    __slots__ = ("packets", "bytes", "frames")

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0
        self.frames = 0

    def add(self, size: int, frame_done: bool) -> None:
        """Count one packet of ``size`` bytes sent."""
        self.packets += 1
        self.bytes += size
        if frame_done:
            self.frames += 1

    def take(self) -> Delivery:
        """Counts since the previous take, then reset."""
        delivery = Delivery(self.packets, self.bytes, self.frames)
        self.packets = self.bytes = self.frames = 0
        return delivery
