"""Payouts from the escrow: creators' settled earnings and viewers' withdrawals.

Money invariant 6 (test_payout_kill_9_never_pays_twice in tests/billing/test_payouts.py): a
payout's extrinsic is signed, then persisted (hex, hash, nonce, era window), and only then
submitted. After a crash an open payout is driven on from its stored state: its bytes are found
on chain or re-sent unchanged; they are never signed again while they could still land. Only
when the mortal era has passed with the extrinsic in no block (it can never land) are the
amounts returned, to be paid by a new payout.

States: created → signed → submitted → in_block → finalized, or failed / expired (amounts
returned: creators' to `pending_payout`, withdrawals' to the viewer's balance).

One signer per escrow: only the holder of the escrow's SignerLease signs (others stand by), and
in that process one driver at a time per payout; a driver that still loses the created → signed
race releases the nonce it took (test_racing_drivers_sign_once_and_leave_no_nonce_gap). A payout
that raises anything but a passing outage is parked with its reason and the loop goes on
(test_bad_payout_is_parked_and_others_paid).
Fees (tests/billing/test_payout_fees.py): a withdrawal's transaction fee is quoted for its exact
transfer (`withdrawal_fee`), recorded as `fee_charged` and debited from the viewer's balance
together with the amount, so the escrow's loss on chain is what the viewer paid; a failed or
expired withdrawal refunds both. Creator payouts' fees are the platform's, kept small by
billing/payout_policy.py. The fee really paid is read from the block (`chain_fee`).
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import structlog
from prometheus_client import Counter, Gauge
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.chain_types import (
    ChainExpired,
    ChainRejected,
    ChainTimeout,
    Inclusion,
    SignedExtrinsic,
)
from billing.meter import MAX_BALANCE, Meter
from billing.metrics import CHAIN_ERRORS, PAYOUT_FEES
from billing.parking import TRANSIENT, park, parked_refs, refresh_open_gauge
from billing.signer_lease import SignerLease

logger = structlog.get_logger(__name__)

PAYOUTS = Counter("vilokanam_payouts_total", "Payouts reaching a final state", ["kind", "status"])
PAYOUT_STATES = Gauge("vilokanam_payouts_by_status", "Payouts by status (after each payout round)",
                      ["status"])
OPEN_STATES = ("created", "signed", "submitted", "in_block")


class PayoutError(Exception):
    """A withdrawal refused before anything was stored; `code` names why, for the API."""

    def __init__(self, message: str, code: str = "insufficient_balance") -> None:
        super().__init__(message)
        self.code = code


class Payouts:
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
        self.chain = chain
        self.pool = pool
        self.meter = meter
        self.escrow = escrow
        self.threshold = threshold
        self.timeout = inclusion_timeout_s
        self.lease = lease  # None: the caller vouches that it is the only signer (tests)
        self._driving: set[uuid.UUID] = set()
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
                self.threshold, max_creators, self.min_interval_s,
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

    async def create_withdrawal(self, user_id: uuid.UUID, dest: str, amount: int,
                                fee: int | None = None) -> uuid.UUID:
        """Record a withdrawal, then take amount + fee off the balance (idempotent by payout id).

        ``fee`` is the quote the viewer accepted (None: quote it now). Raises PayoutError,
        storing nothing and leaving the balance alone, when the amount is not a positive planck
        integer a balance can hold or amount + fee is above the balance (a concurrent debit that
        wins between the check and the debit leaves a `failed` payout instead).
        """
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise PayoutError(f"amount must be a positive integer of planck, got {amount!r}",
                              "invalid_amount")
        if amount > MAX_BALANCE:
            raise PayoutError(f"amount is above the largest balance ({MAX_BALANCE} planck)",
                              "amount_too_large")
        if fee is None:
            fee = await self.withdrawal_fee(dest, amount)
        if await self.meter.balance(str(user_id)) < amount + fee:
            raise PayoutError("balance is below the amount to withdraw plus its fee")
        async with self.pool.acquire() as conn, conn.transaction():
            payout_id: uuid.UUID = await conn.fetchval(
                """INSERT INTO payouts (kind, total, fee_charged) VALUES ('withdrawal', $1, $2)
                   RETURNING id""",
                amount, fee,
            )
            await conn.execute(
                """INSERT INTO payout_items (payout_id, user_id, dest_account, amount)
                   VALUES ($1, $2, $3, $4)""",
                payout_id, user_id, dest, amount,
            )
        if not await self._debit_withdrawal(payout_id, user_id, amount + fee):
            raise PayoutError("balance is below the amount to withdraw plus its fee")
        return payout_id

    async def _debit_withdrawal(self, payout_id: uuid.UUID, user_id: uuid.UUID,
                                amount: int) -> bool:
        """Take the amount off the balance once; a refused withdrawal is marked failed."""
        if await self.meter.debit_for_withdrawal(str(user_id), amount, f"withdraw:{payout_id}"):
            return True
        await self.pool.execute(
            """UPDATE payouts SET status = 'failed', error = 'insufficient balance',
                      extrinsic_hex = '' WHERE id = $1 AND status = 'created'""",
            payout_id,
        )
        return False

    # --- driving payouts to a final state ----------------------------------------------------

    def may_sign(self) -> bool:
        return self.lease is None or self.lease.held()

    async def drive(self, payout_id: uuid.UUID) -> str:
        """Advance one payout as far as it goes now; its status afterwards.

        A payout another driver of this process is advancing is left to it; without the signer
        lease a created payout is left to the signer.
        """
        if payout_id in self._driving:
            return _status(await self._load(payout_id))
        self._driving.add(payout_id)
        try:
            return await self._drive(payout_id)
        finally:
            self._driving.discard(payout_id)

    async def _drive(self, payout_id: uuid.UUID) -> str:
        payout = await self._load(payout_id)
        if payout["status"] == "created":
            if not self.may_sign():
                return "created"
            if payout["kind"] == "withdrawal" and not await self._debit_withdrawal(
                payout_id, *(await self._withdrawal_item(payout_id))
            ):
                return "failed"
            payout = await self._sign(payout)
        if payout["status"] not in OPEN_STATES or payout["status"] == "created":
            return _status(payout)
        xt = _signed(payout)
        if payout["status"] == "signed":
            payout = await self._submit(payout, xt)
        if payout["status"] in ("submitted", "in_block"):
            payout = await self._follow(payout, xt)
        return _status(payout)

    async def _load(self, payout_id: uuid.UUID) -> asyncpg.Record:
        return await self.pool.fetchrow("SELECT * FROM payouts WHERE id = $1", payout_id)

    async def _withdrawal_item(self, payout_id: uuid.UUID) -> tuple[uuid.UUID, int]:
        """The viewer and what the withdrawal takes off their balance: amount + fee."""
        item = await self.pool.fetchrow(
            """SELECT i.user_id, i.amount + p.fee_charged AS debit
               FROM payout_items i JOIN payouts p ON p.id = i.payout_id
               WHERE i.payout_id = $1""",
            payout_id,
        )
        return item["user_id"], int(item["debit"])

    async def _sign(self, payout: asyncpg.Record) -> asyncpg.Record:
        items = await self.pool.fetch(
            "SELECT dest_account, amount FROM payout_items WHERE payout_id = $1 ORDER BY user_id",
            payout["id"],
        )
        xt = await self.chain.sign_batch_transfer(
            self.escrow, [(i["dest_account"], int(i["amount"])) for i in items]
        )
        # Persisted before any submission: these are the only bytes ever sent for this money.
        row = await self.pool.fetchrow(
            """UPDATE payouts SET status = 'signed', signer = $2, extrinsic_hex = $3,
                      extrinsic_hash = $4, nonce = $5, era_start = $6, era_period = $7
               WHERE id = $1 AND status = 'created' RETURNING *""",
            payout["id"], xt.signer, xt.hex, xt.hash, xt.nonce, xt.era_start, xt.era_period,
        )
        if row is None:  # another driver signed (or closed) it first: these bytes are void
            self.chain.release_nonce(xt)
            logger.warning("payouts_sign_race_lost", payout_id=str(payout["id"]))
            return await self._load(payout["id"])
        return row

    async def _submit(self, payout: asyncpg.Record, xt: SignedExtrinsic) -> asyncpg.Record:
        try:
            await self.chain.submit(xt)
        except ChainRejected as exc:
            if exc.kind == "stale":
                # Its nonce is used on chain: by these bytes (then following finds them) or by
                # others (then it can never land, and following reports it expired).
                return await self._set_status(payout, "submitted")
            return await self._give_back(payout, "failed", f"rejected: {exc}")
        return await self._set_status(payout, "submitted")

    async def _follow(self, payout: asyncpg.Record, xt: SignedExtrinsic) -> asyncpg.Record:
        try:
            found = await self.chain.wait_for_inclusion(xt, self.timeout, finalized=False)
            if not found.success:
                return await self._give_back(payout, "failed", found.error or "extrinsic failed",
                                             found)
            payout = await self._included(payout, found, "in_block")
            found = await self.chain.wait_for_inclusion(xt, self.timeout, finalized=True)
        except ChainExpired:
            return await self._give_back(payout, "expired", "era passed; never included")
        except ChainTimeout:
            # Still in flight: resend the same bytes (harmless if pooled) and look again later.
            await self._resend(xt)
            return await self._load(payout["id"])
        return await self._included(payout, found, "finalized")

    async def _resend(self, xt: SignedExtrinsic) -> None:
        try:
            await self.chain.submit(xt)
        except ChainRejected:
            pass  # stale (it landed or can never land): following decides

    async def _included(self, payout: asyncpg.Record, found: Inclusion,
                        status: str) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE payouts SET status = $2::text, block_number = $3, block_hash = $4,
                          extrinsic_index = $5, chain_fee = $6,
                          finalized_at = CASE WHEN $2::text = 'finalized' THEN now() END
                   WHERE id = $1 RETURNING *""",
                payout["id"], status, found.block_number, found.block_hash, found.extrinsic_index,
                found.fee,
            )
            if status == "finalized":
                await conn.execute(
                    """UPDATE creator_earnings SET last_payout_at = now()
                       WHERE creator_id IN (SELECT user_id FROM payout_items WHERE payout_id = $1)
                         AND $2::text = 'creator'""",
                    payout["id"], payout["kind"],
                )
        if status == "finalized":
            PAYOUTS.labels(payout["kind"], "finalized").inc()
            PAYOUT_FEES.labels(payout["kind"]).inc(found.fee or 0)
            logger.info("payouts_finalized", payout_id=str(payout["id"]),
                        block=found.block_number, xt_hash=payout["extrinsic_hash"])
        return row

    async def _set_status(self, payout: asyncpg.Record, status: str) -> asyncpg.Record:
        return await self.pool.fetchrow(
            "UPDATE payouts SET status = $2 WHERE id = $1 RETURNING *", payout["id"], status
        )

    async def _give_back(self, payout: asyncpg.Record, status: str, error: str,
                         found: Inclusion | None = None) -> asyncpg.Record:
        """A payout that did not and cannot pay: return its amounts exactly once."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE payouts SET status = $2, error = $3, block_number = $4,
                          block_hash = $5, extrinsic_index = $6, chain_fee = $8
                   WHERE id = $1 AND status = ANY($7::text[]) RETURNING *""",
                payout["id"], status, error[:500],
                found.block_number if found else None, found.block_hash if found else None,
                found.extrinsic_index if found else None, list(OPEN_STATES),
                found.fee if found else None,
            )
            if row is None:
                return await self._load(payout["id"])  # another worker closed it
            if row["signer"] and not found:
                self.chain.release_nonce(_signed(row))  # refused or expired: never used
            items = await conn.fetch(
                "SELECT user_id, amount FROM payout_items WHERE payout_id = $1", payout["id"]
            )
            if payout["kind"] == "creator":
                await conn.executemany(
                    """UPDATE creator_earnings SET pending_payout = pending_payout + $2
                       WHERE creator_id = $1""",
                    [(i["user_id"], i["amount"]) for i in items],
                )
        if payout["kind"] == "withdrawal":
            for item in items:  # a crash before this is finished by recover_refunds
                await self._refund(payout["id"], item["user_id"], item["amount"],
                                   row["fee_charged"])
        PAYOUTS.labels(payout["kind"], status).inc()
        if found is not None:  # in a block but failed: the fee was paid all the same
            PAYOUT_FEES.labels(payout["kind"]).inc(found.fee or 0)
        logger.warning("payouts_returned", payout_id=str(payout["id"]), status=status, error=error)
        return row

    async def _refund(self, payout_id: uuid.UUID, user_id: uuid.UUID, amount: int,
                      fee_charged: int) -> bool:
        """Give a withdrawal that did not pay back to the viewer, fee included (a withdrawal
        that did not pay costs nothing); exactly once per payout, by idempotency key."""
        return await self.meter.credit(str(user_id), int(amount) + int(fee_charged),
                                       f"refund:{payout_id}")

    async def recover_refunds(self) -> int:
        """Refunds a crash cut off: `_give_back` commits the failed or expired status before
        it credits the balance. Only withdrawals whose debit happened are refunded (one refused
        for want of balance never took anything). Returns how many were credited now."""
        rows = await self.pool.fetch(
            """SELECT p.id, p.fee_charged, i.user_id, i.amount
                 FROM payouts p JOIN payout_items i ON i.payout_id = p.id
                WHERE p.kind = 'withdrawal' AND p.status IN ('failed', 'expired')"""
        )
        credited = 0
        for row in rows:
            if await self.meter.withdrawal_debited(f"withdraw:{row['id']}") and await self._refund(
                row["id"], row["user_id"], row["amount"], row["fee_charged"]
            ):
                credited += 1
                logger.warning("payouts_withdrawal_refund_recovered", payout_id=str(row["id"]))
        return credited

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
            await park(self.pool, "payout", str(payout_id), exc,
                       None if total is None else int(total))

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
        self.chain.reserve_nonces(signer, [row["nonce"] for row in await self.pool.fetch(
            "SELECT nonce FROM payouts WHERE status = ANY($1::text[]) AND nonce IS NOT NULL",
            list(OPEN_STATES))])
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


def _status(payout: asyncpg.Record) -> str:
    """A payout row's status (asyncpg's rows are untyped)."""
    status: str = payout["status"]
    return status


def _signed(payout: asyncpg.Record) -> SignedExtrinsic:
    return SignedExtrinsic(
        hex=payout["extrinsic_hex"],
        hash=payout["extrinsic_hash"],
        nonce=payout["nonce"],
        era_start=payout["era_start"],
        era_period=payout["era_period"],
        signer=payout["signer"],
    )
