"""The seam where billing decides whether a viewer may watch, and learns when views start/end.

Signaling knows nothing of balances: it asks a ViewPolicy. Until billing plugs one in, every
signed-in viewer may watch (OpenViewing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


class ViewRefused(Exception):
    """The viewer may not watch (e.g. balance too low); the message is shown to them."""


class TooManyViews(Exception):
    """The account already has as many open views as one account may have."""


@dataclass(frozen=True)
class View:
    view_id: uuid.UUID  # stream_viewers.id
    subscriber_id: str  # the sfu's id of this viewer's media session
    viewer_id: uuid.UUID
    stream_id: uuid.UUID
    creator_id: uuid.UUID
    price_per_second: Decimal  # planck


class ViewPolicy(Protocol):
    async def admit(self, viewer_id: uuid.UUID, stream_id: uuid.UUID, price: Decimal) -> None:
        """Raise ViewRefused when this viewer may not start watching this stream."""

    async def started(self, view: View) -> None:
        """The view's media session exists; metering may begin."""

    async def ended(self, view: View) -> None:
        """The view's media session is gone."""


class OpenViewing:
    """Everybody signed in may watch; nothing is metered."""

    async def admit(self, viewer_id: uuid.UUID, stream_id: uuid.UUID, price: Decimal) -> None:
        return None

    async def started(self, view: View) -> None:
        return None

    async def ended(self, view: View) -> None:
        return None


class ViewSlots(Protocol):
    """The count of each account's open views (cluster-wide with signaling.cluster.view_slots)."""

    async def take(self, viewer_id: uuid.UUID, cap: int) -> str | None:
        """A slot for one more view, or None when the account already holds `cap`."""

    async def give_back(self, viewer_id: uuid.UUID, slot: str) -> None:
        """The view holding `slot` ended."""


class LocalViewSlots:
    """This process's views only (a lone LiveStreams; nodes plug in the cluster's count)."""

    def __init__(self) -> None:
        self._held: dict[uuid.UUID, set[str]] = {}

    async def take(self, viewer_id: uuid.UUID, cap: int) -> str | None:
        held = self._held.setdefault(viewer_id, set())
        if len(held) >= cap:
            return None
        slot = uuid.uuid4().hex
        held.add(slot)
        return slot

    async def give_back(self, viewer_id: uuid.UUID, slot: str) -> None:
        held = self._held.get(viewer_id, set())
        held.discard(slot)
        if not held:
            self._held.pop(viewer_id, None)
