"""Parked items: one deposit, payout or ledger batch that a loop cannot process.

A loop that meets an item it cannot handle (not a passing outage: a value the meter cannot hold,
a row the database refuses, a bug) parks it here with its reason and goes on with the others.
A parked item moves no money until an operator acts: `vilokanam reconcile` lists it,
`vilokanam parked retry KIND REF` hands it back to its loop, `vilokanam parked resolve KIND REF
NOTE` records that it was settled by hand. Tested in tests/billing/test_parking.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg
import structlog
from prometheus_client import Counter, Gauge
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from billing.chain_types import ChainError

logger = structlog.get_logger(__name__)

Kind = Literal["deposit", "payout", "settlement"]
KINDS: tuple[Kind, ...] = ("deposit", "payout", "settlement")

PARKED = Counter("vilokanam_parked_items_total", "Background items parked, by kind", ["kind"])
OPEN_PARKED = Gauge(
    "vilokanam_parked_items_open", "Parked items not yet retried or resolved", ["kind"]
)

# Failures that say nothing about the item (the database, Redis or the node was unreachable or
# busy): the loop retries them, never parks.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    ChainError,
    RedisConnectionError,
    RedisTimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
)


@dataclass(frozen=True)
class ParkedItem:
    kind: Kind
    ref: str
    reason: str
    amount: int | None
    parked_at: datetime
    resolved_at: datetime | None
    resolution: str | None


async def park(
    db: asyncpg.Pool | asyncpg.Connection,
    kind: Kind,
    ref: str,
    error: BaseException | str,
    amount: int | None = None,
) -> None:
    """Park one item (again parking an already parked item keeps the first reason)."""
    reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    inserted = await db.fetchval(
        """INSERT INTO parked_items (kind, ref, reason, amount) VALUES ($1, $2, $3, $4)
           ON CONFLICT (kind, ref) DO NOTHING RETURNING 1""",
        kind,
        ref,
        reason[:1000],
        amount,
    )
    if inserted:
        PARKED.labels(kind).inc()
        await refresh_open_gauge(db)
        logger.error(
            "parking_item_parked",
            kind=kind,
            ref=ref,
            reason=reason[:200],
            amount=None if amount is None else str(amount),
        )


async def refresh_open_gauge(db: asyncpg.Pool | asyncpg.Connection) -> None:
    """Set the open-items gauge from the table (shared by every process)."""
    rows = await db.fetch(
        "SELECT kind, count(*) AS n FROM parked_items WHERE resolved_at IS NULL GROUP BY kind"
    )
    counts = {row["kind"]: row["n"] for row in rows}
    for kind in KINDS:
        OPEN_PARKED.labels(kind).set(counts.get(kind, 0))


async def parked_refs(db: asyncpg.Pool | asyncpg.Connection, kind: Kind) -> set[str]:
    """Refs of `kind` a loop must skip: parked, whether open or resolved by hand."""
    rows = await db.fetch("SELECT ref FROM parked_items WHERE kind = $1", kind)
    return {row["ref"] for row in rows}


async def list_parked(db: asyncpg.Pool, include_resolved: bool = False) -> list[ParkedItem]:
    rows = await db.fetch(
        """SELECT * FROM parked_items WHERE $1 OR resolved_at IS NULL
           ORDER BY parked_at""",
        include_resolved,
    )
    return [
        ParkedItem(
            r["kind"],
            r["ref"],
            r["reason"],
            None if r["amount"] is None else int(r["amount"]),
            r["parked_at"],
            r["resolved_at"],
            r["resolution"],
        )
        for r in rows
    ]


async def retry(db: asyncpg.Pool, kind: Kind, ref: str) -> bool:
    """Hand an open parked item back to its loop; False if there is no such open item."""
    done = await db.fetchval(
        "DELETE FROM parked_items WHERE kind = $1 AND ref = $2 AND resolved_at IS NULL RETURNING 1",
        kind,
        ref,
    )
    if done:
        await refresh_open_gauge(db)
        logger.warning("parking_item_retried", kind=kind, ref=ref)
    return bool(done)


async def resolve(db: asyncpg.Pool, kind: Kind, ref: str, note: str) -> bool:
    """Record that an open parked item was settled by hand; its loop never takes it again."""
    done = await db.fetchval(
        """UPDATE parked_items SET resolved_at = now(), resolution = $3
           WHERE kind = $1 AND ref = $2 AND resolved_at IS NULL RETURNING 1""",
        kind,
        ref,
        note[:1000],
    )
    if done:
        await refresh_open_gauge(db)
        logger.warning("parking_item_resolved", kind=kind, ref=ref, note=note[:200])
    return bool(done)
