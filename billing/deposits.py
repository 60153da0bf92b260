"""Deposit watcher: finalized transfers to the escrow become viewer balance, exactly once.

Money invariant 7 (test_deposit_credited_once_across_restarts in tests/billing/test_deposits.py):
each `Balances.Transfer` event to the escrow in a FINALIZED block is recorded once, keyed by
(block hash, event index), in the same transaction that advances the watcher's cursor; the
Redis credit that follows is idempotent by deposit id and marked in `deposits.credited_at`, so
a crash between the two is finished by the next pass.

A deposit the meter cannot hold (above 2^63-1 planck, or one that would take the balance past
it; see billing/meter.py) is parked with its reason instead of credited, and the watcher goes on
with later deposits (test_deposit_above_int64_is_parked_and_later_ones_credited).
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
from prometheus_client import Counter

from billing.accounts import public_key
from billing.chain import ChainClient
from billing.chain_types import ChainError, Transfer
from billing.meter import MAX_BALANCE, Meter
from billing.metrics import CHAIN_ERRORS
from billing.parking import TRANSIENT, park, parked_refs
from billing.users_db import ensure_user

logger = structlog.get_logger(__name__)

DEPOSITS = Counter("vilokanam_deposits_total", "Deposits credited to viewer balances")
DEPOSITED = Counter("vilokanam_deposited_planck_total", "Planck credited from deposits")


class DepositWatcher:
    def __init__(
        self,
        chain: ChainClient,
        pool: asyncpg.Pool,
        meter: Meter,
        escrow_address: str,
        ss58_format: int,
        start_block: int | None = None,
    ) -> None:
        self.chain = chain
        self.pool = pool
        self.meter = meter
        self.escrow = escrow_address
        self.ss58_format = ss58_format
        self.start_block = start_block  # None: the finalized head when first started
        self.cursor = f"deposits:{escrow_address}"  # a new escrow starts its own history

    async def _cursor(self, finalized: int) -> int:
        """The last block already scanned (initialising the cursor on first use)."""
        row: int | None = await self.pool.fetchval(
            "SELECT block_number FROM chain_cursors WHERE name = $1", self.cursor
        )
        if row is not None:
            return row
        start = finalized if self.start_block is None else self.start_block
        return start - 1

    async def poll(self) -> int:
        """Scan finalized blocks after the cursor, then credit what is recorded; count credited."""
        finalized, _ = await self.chain.finalized_head()
        last = await self._cursor(finalized)
        for number in range(last + 1, finalized + 1):
            block_hash = await self.chain.block_hash(number)
            if block_hash is None:
                raise ChainError(f"finalized block {number} has no hash")
            transfers = await self.chain.transfers_in_block(block_hash, self.escrow)
            await self._record(number, block_hash, transfers)
        return await self.credit_recorded()

    async def _record(self, number: int, block_hash: str, transfers: list[Transfer]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for transfer in transfers:
                user = await ensure_user(conn, public_key(transfer.from_address), self.ss58_format)
                await conn.execute(
                    """INSERT INTO deposits (user_id, from_account, amount, block_number,
                                             block_hash, event_index)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (block_hash, event_index) DO NOTHING""",
                    user["id"],
                    user["account_id"],
                    transfer.amount,
                    number,
                    block_hash,
                    transfer.event_index,
                )
            await conn.execute(
                """INSERT INTO chain_cursors (name, block_number, block_hash) VALUES ($1, $2, $3)
                   ON CONFLICT (name) DO UPDATE SET block_number = EXCLUDED.block_number,
                       block_hash = EXCLUDED.block_hash, updated_at = now()""",
                self.cursor,
                number,
                block_hash,
            )

    async def credit_recorded(self) -> int:
        """Credit every recorded deposit not yet credited (idempotent by deposit id).

        Returns how many were credited or parked by this pass.
        """
        pending = await self.pool.fetch(
            "SELECT id, user_id, amount FROM deposits WHERE credited_at IS NULL ORDER BY created_at"
        )
        parked = await parked_refs(self.pool, "deposit")
        pending = [d for d in pending if str(d["id"]) not in parked]
        for deposit in pending:
            await self._credit(deposit)
        return len(pending)

    async def _credit(self, deposit: asyncpg.Record) -> None:
        amount = int(deposit["amount"])
        try:
            if amount > MAX_BALANCE:
                raise OverflowError(
                    f"amount {amount} is above what a balance holds ({MAX_BALANCE} planck)"
                )
            fresh = await self.meter.credit(
                str(deposit["user_id"]), amount, f"deposit:{deposit['id']}"
            )
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - one deposit must not stop the others
            await park(self.pool, "deposit", str(deposit["id"]), exc, amount)
            return
        await self.pool.execute(
            "UPDATE deposits SET credited_at = now() WHERE id = $1", deposit["id"]
        )
        if fresh:
            DEPOSITS.inc()
            DEPOSITED.inc(amount)
            logger.info(
                "deposits_credited",
                deposit_id=str(deposit["id"]),
                user_id=str(deposit["user_id"]),
                amount=str(amount),
            )

    async def run(self, stop: asyncio.Event, interval_s: float = 2.0) -> None:
        while not stop.is_set():
            try:
                await self.poll()
            except (ChainError, OSError, asyncpg.PostgresError) as exc:
                CHAIN_ERRORS.labels("deposits").inc()
                logger.warning("deposits_poll_failed", error=str(exc))
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
