"""Payouts from the escrow: creators' settled earnings and viewers' withdrawals.

Creating them here, driving each to a final state in billing/payout_driver.py (where the money
invariant of signing before submitting lives), and the worker's rounds here.

One signer per escrow: only the holder of the escrow's SignerLease signs (others stand by). A
payout that raises anything but a passing outage is parked with its reason and the loop goes on
(test_bad_payout_is_parked_and_others_paid).
Fees (tests/billing/test_payout_fees.py): a withdrawal's transaction fee is quoted for its exact
transfer (`withdrawal_fee`), recorded as `fee_charged` and debited from the viewer's balance
together with the amount, so the escrow's loss on chain is what the viewer paid; a failed or
expired withdrawal refunds both. Creator payouts' fees are the platform's, kept small by
billing/payout_policy.py.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import structlog
from prometheus_client import Gauge
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.meter import MAX_BALANCE, Meter
from billing.metrics import CHAIN_ERRORS
from billing.parking import TRANSIENT, park, parked_refs, refresh_open_gauge
from billing.payout_driver import OPEN_STATES, PayoutDriver
from billing.signer_lease import SignerLease

__all__ = ["OPEN_STATES", "PayoutError", "Payouts"]

logger = structlog.get_logger(__name__)

PAYOUT_STATES = Gauge(
    "vilokanam_payouts_by_status", "Payouts by status (after each payout round)", ["status"]
)


class PayoutError(Exception):
    """A withdrawal refused before anything was stored; `code` names why, for the API."""

    def __init__(self, message: str, code: str = "insufficient_balance") -> None:
        super().__init__(message)
        self.code = code


class Payouts(PayoutDriver):
    """Creates payouts and pays them in rounds (:meth:`run`); driving is the base class's."""

    def __init__(
        self,
        chain: ChainClient,
        pool: asyncpg.Pool,
        meter: Meter,
        escrow: Keypair,
        threshold: int,
        inclusion_timeout_s: float = 30.0,
        lease: SignerLease | None = None,
        min_interval_s: float = 0.0,
    ) -> None:
        super().__init__(chain, pool, meter, escrow, inclusion_timeout_s, lease)
        self.threshold = threshold
        self.min_interval_s = min_interval_s  # between two payouts to one creator

    # --- creating payouts --------------------------------------------------------------------

    async def create_creator_payout(self, max_creators: int = 100) -> uuid.UUID | None:
        """Move every pending_payout at or above the threshold into one new payout.

        A creator paid less than `min_interval_s` ago waits (see billing/payout_policy.py).
        """
        async with self.pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                """SELECT ce.creator_id, ce.pending_payout, u.account_id
                   FROM creator_earnings ce JOIN users u ON u.id = ce.creator_id
                   WHERE ce.pending_payout >= $1
                     AND NOT EXISTS (
                       SELECT 1 FROM payout_items i JOIN payouts p ON p.id = i.payout_id
                       WHERE i.user_id = ce.creator_id AND p.kind = 'creator'
                         AND p.status NOT IN ('failed', 'expired')
                         AND p.created_at > now() - make_interval(secs => $3))
                   ORDER BY ce.pending_payout DESC LIMIT $2
                   FOR UPDATE OF ce SKIP LOCKED""",
                self.threshold,
                max_creators,
                self.min_interval_s,
            )
            if not due:
                return None
            payout_id: uuid.UUID = await conn.fetchval(
                "INSERT INTO payouts (kind, total) VALUES ('creator', $1) RETURNING id",
                sum(int(row["pending_payout"]) for row in due),
            )
            await conn.executemany(
                """INSERT INTO payout_items (payout_id, user_id, dest_account, amount)
                   VALUES ($1, $2, $3, $4)""",
                [(payout_id, r["creator_id"], r["account_id"], r["pending_payout"]) for r in due],
            )
            await conn.executemany(
                """UPDATE creator_earnings SET pending_payout = pending_payout - $2
                   WHERE creator_id = $1""",
                [(r["creator_id"], r["pending_payout"]) for r in due],
            )
        logger.info("payouts_created", payout_id=str(payout_id), creators=len(due))
        return payout_id

    async def withdrawal_fee(self, dest: str, amount: int) -> int:
        """The transaction fee of withdrawing ``amount`` to ``dest``: the viewer pays it."""
        return await self.chain.estimate_fee(self.escrow, [(dest, amount)])

    async def create_withdrawal(
        self,
        user_id: uuid.UUID,
        dest: str,
        amount: int,
        fee: int | None = None,
        payout_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Record a withdrawal, then take amount + fee off the balance (idempotent by payout id).

        ``fee`` is the quote the viewer accepted (None: quote it now). Raises PayoutError,
        storing nothing and leaving the balance alone, when the amount is not a positive planck
        integer a balance can hold or amount + fee is above the balance (a concurrent debit that
        wins between the check and the debit leaves a `failed` payout instead).

        ``payout_id`` (from an HTTP Idempotency-Key) makes a retry find the withdrawal an earlier
        call made, even one killed half-way, and finish it instead of making a second one.
        """
        if payout_id is not None and await self._withdrawal_exists(payout_id):
            return await self._resume_withdrawal(payout_id, user_id, dest, amount)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise PayoutError(
                f"amount must be a positive integer of planck, got {amount!r}", "invalid_amount"
            )
        if amount > MAX_BALANCE:
            raise PayoutError(
                f"amount is above the largest balance ({MAX_BALANCE} planck)", "amount_too_large"
            )
        if fee is None:
            fee = await self.withdrawal_fee(dest, amount)
        if await self.meter.balance(str(user_id)) < amount + fee:
            raise PayoutError("balance is below the amount to withdraw plus its fee")
        try:
            payout_id = await self._insert_withdrawal(user_id, dest, amount, fee, payout_id)
        except asyncpg.UniqueViolationError:  # a concurrent call with the same id won
            assert payout_id is not None
            return await self._resume_withdrawal(payout_id, user_id, dest, amount)
        if not await self._debit_withdrawal(payout_id, user_id, amount + fee):
            raise PayoutError("balance is below the amount to withdraw plus its fee")
        return payout_id

    async def _insert_withdrawal(
        self, user_id: uuid.UUID, dest: str, amount: int, fee: int, payout_id: uuid.UUID | None
    ) -> uuid.UUID:
        async with self.pool.acquire() as conn, conn.transaction():
            created: uuid.UUID = await conn.fetchval(
                """INSERT INTO payouts (id, kind, total, fee_charged)
                   VALUES (COALESCE($3, gen_random_uuid()), 'withdrawal', $1, $2) RETURNING id""",
                amount,
                fee,
                payout_id,
            )
            await conn.execute(
                """INSERT INTO payout_items (payout_id, user_id, dest_account, amount)
                   VALUES ($1, $2, $3, $4)""",
                created,
                user_id,
                dest,
                amount,
            )
        return created

    async def _withdrawal_exists(self, payout_id: uuid.UUID) -> bool:
        return bool(await self.pool.fetchval("SELECT 1 FROM payouts WHERE id = $1", payout_id))

    async def _resume_withdrawal(
        self, payout_id: uuid.UUID, user_id: uuid.UUID, dest: str, amount: int
    ) -> uuid.UUID:
        """The withdrawal an earlier call with this id made: the same one, debited once."""
        row = await self.pool.fetchrow(
            """SELECT p.kind, p.status, p.error, i.user_id, i.dest_account, i.amount
               FROM payouts p JOIN payout_items i ON i.payout_id = p.id WHERE p.id = $1""",
            payout_id,
        )
        asked = ("withdrawal", user_id, dest, amount)
        if row is None or (row["kind"], row["user_id"], row["dest_account"], row["amount"]) != (
            asked
        ):
            raise PayoutError(
                "this idempotency key was used for another withdrawal", "idempotency_key_reused"
            )
        if row["status"] == "created" and not await self._debit_withdrawal(
            payout_id, *(await self._withdrawal_item(payout_id))
        ):
            raise PayoutError("balance is below the amount to withdraw plus its fee")
        if row["status"] == "failed" and row["error"] == "insufficient balance":
            raise PayoutError("balance is below the amount to withdraw plus its fee")
        return payout_id

    # --- the worker ------------------------------------------------------------------------

    async def open_payouts(self) -> list[uuid.UUID]:
        """Open payouts not parked, oldest first."""
        rows = await self.pool.fetch(
            "SELECT id FROM payouts WHERE status = ANY($1::text[]) ORDER BY created_at",
            list(OPEN_STATES),
        )
        parked = await parked_refs(self.pool, "payout")
        return [row["id"] for row in rows if str(row["id"]) not in parked]

    async def run_once(self) -> None:
        """Finish what is open (after a crash too), then pay who is due."""
        for payout_id in await self.open_payouts():
            await self.drive_or_park(payout_id)
        if self.may_sign():
            created = await self.create_creator_payout()
            if created is not None:
                await self.drive_or_park(created)
        for row in await self.pool.fetch("SELECT status, count(*) FROM payouts GROUP BY status"):
            PAYOUT_STATES.labels(row["status"]).set(row["count"])
        await refresh_open_gauge(self.pool)

    async def drive_or_park(self, payout_id: uuid.UUID) -> None:
        """Drive one payout; one that fails for a reason of its own is parked, not retried."""
        try:
            await self.drive(payout_id)
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - one payout must not stop the others
            total = await self.pool.fetchval("SELECT total FROM payouts WHERE id = $1", payout_id)
            await park(
                self.pool, "payout", str(payout_id), exc, None if total is None else int(total)
            )

    async def run(self, stop: asyncio.Event, interval_s: float = 5.0) -> None:
        """Pay in rounds while holding the signer lease; stand by while another process does."""
        await self.recover_refunds()
        try:
            while not stop.is_set():
                if self.lease is None:
                    await self._rounds(stop, interval_s)
                elif await self.lease.acquire():
                    await self._signing(stop, interval_s)
                else:
                    await _pause(stop, self.lease.ttl_ms / 3000)
        finally:
            if self.lease is not None:
                await self.lease.release()

    async def _signing(self, stop: asyncio.Event, interval_s: float) -> None:
        assert self.lease is not None
        signer = self.escrow.ss58_address
        # The previous holder's nonces are on chain or in stored payouts: start from those.
        self.chain.forget_nonces(signer)
        self.chain.reserve_nonces(
            signer,
            [
                row["nonce"]
                for row in await self.pool.fetch(
                    "SELECT nonce FROM payouts"
                    " WHERE status = ANY($1::text[]) AND nonce IS NOT NULL",
                    list(OPEN_STATES),
                )
            ],
        )
        logger.info("payouts_signer_active", escrow=signer)
        keeper = asyncio.create_task(self.lease.keep(stop))
        try:
            await self._rounds(stop, interval_s)
        finally:
            keeper.cancel()
        if not stop.is_set():
            logger.error("payouts_signer_lease_lost", escrow=signer)
            self.chain.forget_nonces(signer)

    async def _rounds(self, stop: asyncio.Event, interval_s: float) -> None:
        while not stop.is_set() and self.may_sign():
            try:
                await self.run_once()
            except TRANSIENT as exc:
                CHAIN_ERRORS.labels("payouts").inc()
                logger.warning("payouts_round_failed", error=str(exc))
            await _pause(stop, interval_s)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
