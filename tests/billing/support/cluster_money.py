"""Money checks across the nodes of a cluster: viewers that count the seconds they received, the
ledger read per view, and the books as an auditor reads them (Redis and PostgreSQL)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
from aiohttp import ClientResponse
from aiortc.rtp import RtpPacket

from billing.ledger import LedgerEntry, decode_entry, ledger_key
from billing.meter import Meter
from tests.support.rtc_peers import Viewer


class CountingViewer(Viewer):
    """A viewer that records the wall-clock seconds in which its RTP stack received media
    packets, and when the last one came.

    Packets, not decoded frames: the receiver reports that acknowledge seconds (ARCHITECTURE
    "Money" 1) count the packets received, including those a decoder drops while it waits for
    the first keyframe. Call `count()` once its transceivers exist (after the offer is made)."""

    packet_seconds: set[int] | None = None
    last_packet_at: float = 0.0  # time.monotonic()

    def count(self) -> None:
        self.packet_seconds = set()
        for receiver in self.pc.getReceivers():
            handle = receiver._handle_rtp_packet  # noqa: SLF001 - aiortc has no public hook

            async def counted(packet: RtpPacket, arrival_time_ms: int, handle=handle) -> None:  # type: ignore[no-untyped-def]
                self.last_packet_at = time.monotonic()
                assert self.packet_seconds is not None
                self.packet_seconds.add(int(time.time()))
                await handle(packet, arrival_time_ms)

            receiver._handle_rtp_packet = counted  # type: ignore[method-assign]  # noqa: SLF001

    @property
    def seconds(self) -> set[int]:
        return set(self.packet_seconds or ())


@dataclass
class LedgerView:
    """What the ledger stream holds, per view: its charged seconds in ledger order."""

    entries: list[LedgerEntry] = field(default_factory=list)
    seconds: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    @property
    def debits(self) -> int:
        return sum(e.amount for e in self.entries)

    @property
    def credits(self) -> int:
        return sum(e.creator_amount for e in self.entries)

    @property
    def fees(self) -> int:
        return sum(e.fee for e in self.entries)


async def read_ledger(redis: aioredis.Redis, prefix: str) -> LedgerView:
    """Every charge in the ledger stream (read before settlement trims it)."""
    ledger = LedgerView()
    for _, fields in await redis.xrange(ledger_key(prefix)):
        for entry in decode_entry(fields):
            ledger.entries.append(entry)
            ledger.seconds[entry.view_id].append(entry.second)
    return ledger


def assert_seconds_match_media(charged: list[int], received: set[int], slack: int) -> None:
    """A view's charged seconds: each once, in order, only seconds around the media it received
    (a second of the sender's clock may straddle one of the viewer's), and no more of them than
    seconds with media; at most `slack` received seconds left uncharged (the last ones, still
    unacknowledged when the view closed)."""
    assert charged == sorted(set(charged)), f"a second charged twice or out of order: {charged}"
    assert received, "the viewer received no media"
    assert len(charged) <= len(received), (sorted(received), charged)
    assert all(min(received) - 1 <= s <= max(received) + 1 for s in charged), (
        sorted(received),
        charged,
    )
    assert len(charged) >= len(received) - slack, (sorted(received), charged)


async def assert_books_balance(
    db: asyncpg.Pool, meter: Meter, ledger: LedgerView, viewer_id: str, deposited: int
) -> None:
    """Redis: the account was debited exactly the ledger's charges, and Σ debits = creator
    credits + platform fee to the planck. PostgreSQL (settled): the same sums, per view too."""
    totals = await meter.totals()
    assert (totals.debits, totals.creator_credits, totals.fees) == (
        ledger.debits,
        ledger.credits,
        ledger.fees,
    )
    assert totals.debits == totals.creator_credits + totals.fees
    assert await meter.balance(viewer_id) == deposited - ledger.debits
    batches = await db.fetchrow(
        "SELECT sum(amount) AS a, sum(creator_amount) AS c, sum(fee) AS f FROM settled_batches"
    )
    assert (int(batches["a"]), int(batches["c"]), int(batches["f"])) == (
        ledger.debits,
        ledger.credits,
        ledger.fees,
    )
    paid = await db.fetchrow(
        "SELECT sum(amount) AS a, sum(fee) AS f FROM payments WHERE from_user_id = $1::uuid"
        " AND payment_type = 'stream_view'",
        viewer_id,
    )
    assert (int(paid["a"]), int(paid["f"])) == (ledger.debits, ledger.fees)
    earned = await db.fetchval("SELECT sum(total_earnings) FROM creator_earnings")
    assert int(earned) == ledger.credits
    for view_id, seconds in ledger.seconds.items():
        row = await db.fetchrow(
            "SELECT total_ticks, paid_amount FROM stream_viewers WHERE id = $1::uuid", view_id
        )
        amount = sum(e.amount for e in ledger.entries if e.view_id == view_id)
        assert (row["total_ticks"], int(row["paid_amount"])) == (len(seconds), amount)
        assert await meter.view_ticks(view_id) == len(seconds)


async def accepted(response: ClientResponse) -> None:
    assert response.status == 201, await response.text()
