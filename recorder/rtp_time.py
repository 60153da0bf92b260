"""RTP timestamps to media time: 32-bit unwrap and anchoring on arrival time (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field

RTP_MODULO = 1 << 32
HALF_RANGE = 1 << 31
# RTP time and arrival time may drift or jitter, but never by this much unless the sender
# restarted its clock (new SSRC, encoder reset): then we re-anchor on arrival time.
RESYNC_S = 5.0


def unwrap(previous_extended: int, timestamp: int) -> int:
    """Extend a 32-bit RTP ``timestamp`` to the value nearest ``previous_extended``."""
    delta = (timestamp - previous_extended + HALF_RANGE) % RTP_MODULO - HALF_RANGE
    return previous_extended + delta


@dataclass
class TrackClock:
    """Maps one track's RTP timestamps to ticks (of ``clock_rate``) since the recording start.

    The first timestamp is anchored to its arrival time relative to the recording start, so
    tracks with unrelated RTP offsets line up; after that RTP time rules, so gaps from lost
    packets keep their real length and arrival jitter does not leak into the file.
    """

    clock_rate: int
    _extended: int | None = None
    _origin: int = 0  # extended timestamp that maps to tick 0
    resyncs: int = field(default=0)

    def ticks(self, timestamp: int, arrival_s: float) -> int:
        """Ticks since the recording start for a frame that arrived ``arrival_s`` after it."""
        arrival_ticks = round(arrival_s * self.clock_rate)
        if self._extended is None:
            self._extended = timestamp
            self._origin = timestamp - arrival_ticks
            return arrival_ticks
        self._extended = unwrap(self._extended, timestamp)
        ticks = self._extended - self._origin
        if abs(ticks - arrival_ticks) > RESYNC_S * self.clock_rate:
            self._origin = self._extended - arrival_ticks
            self.resyncs += 1
            return arrival_ticks
        return ticks
