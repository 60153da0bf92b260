"""Pacing the fan-out by time: hold the event loop for at most a budget, then let others run.

A keyframe (~55 packets) to hundreds of viewers is tens of thousands of sends; done in one go
it would hold the loop, and with it every other stream's packets, RTCP and signaling, for its
whole length. The fan-out asks the pacer how many targets to serve in the next call (as many as
fit in what is left of the budget, from the measured cost per target) and whether to yield.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PACE_BUDGET_S = 0.002  # the loop is held at most about this long between two yields
MIN_SLICE = 16  # targets per forward call at least: a call has a fixed cost too
INITIAL_COST_S = 20e-6  # per target, until measured (the Python fan-out's order of magnitude)


class Pacer:
    """Time spent since the fan-out last yielded, and the measured cost of one target."""

    def __init__(
        self, budget: float = PACE_BUDGET_S, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.budget = budget
        self._clock = clock
        self._since = clock()
        self._cost = INITIAL_COST_S

    def now(self) -> float:
        """The pacer's clock (also the clock packets' queue ages are measured on)."""
        return self._clock()

    def rested(self) -> None:
        """The loop just ran other work: a new budget starts."""
        self._since = self._clock()

    def due(self) -> bool:
        """True once the budget is spent: yield before the next call."""
        return self._clock() - self._since >= self.budget

    def slice_end(self, start: int, total: int) -> int:
        """End of the next slice of targets from ``start``: what fits in the budget left."""
        left = self.budget - (self._clock() - self._since)
        return min(total, start + max(MIN_SLICE, int(left / self._cost)))

    def spent(self, targets: int, seconds: float) -> None:
        """A forward call served ``targets`` in ``seconds``: update the cost per target."""
        if targets > 0:
            self._cost = max(0.5 * self._cost + 0.5 * seconds / targets, 1e-7)
