"""Driving one payout from created to a final state, and giving back what did not pay.

Money invariant 6 (test_payout_kill_9_never_pays_twice in tests/billing/test_payouts.py): a
payout's extrinsic is signed, then persisted (hex, hash, nonce, era window), and only then
submitted. After a crash an open payout is driven on from its stored state: its bytes are found
on chain or re-sent unchanged; they are never signed again while they could still land. Only
when the mortal era has passed with the extrinsic in no block (it can never land) are the
amounts returned, to be paid by a new payout.

States: created → signed → submitted → in_block → finalized, or failed / expired (amounts
returned: creators' to `pending_payout`, withdrawals' to the viewer's balance, fee included).

In one process one driver at a time per payout; a driver that still loses the created → signed
race releases the nonce it took (test_racing_drivers_sign_once_and_leave_no_nonce_gap). The fee
really paid is read from the block (`chain_fee`).
"""

from __future__ import annotations

import uuid

import asyncpg
import structlog
from prometheus_client import Counter
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.chain_types import (
    ChainExpired,
    ChainRejected,
    ChainTimeout,
    Inclusion,
    SignedExtrinsic,
)
from billing.meter import Meter
from billing.metrics import PAYOUT_FEES
from billing.signer_lease import SignerLease

logger = structlog.get_logger(__name__)

PAYOUTS = Counter("vilokanam_payouts_total", "Payouts reaching a final state", ["kind", "status"])
OPEN_STATES = ("created", "signed", "submitted", "in_block")


class PayoutDriver:
    """Advances stored payouts of one escrow; billing/payouts.py creates them and runs rounds."""

    def __init__(
        self,
        chain: ChainClient,
        pool: asyncpg.Pool,
        meter: Meter,
        escrow: Keypair,
        inclusion_timeout_s: float = 30.0,
        lease: SignerLease | None = None,
    ) -> None:
        self.chain = chain
        self.pool = pool
        self.meter = meter
        self.escrow = escrow
        self.timeout = inclusion_timeout_s
        self.lease = lease  # None: the caller vouches that it is the only signer (tests)
        self._driving: set[uuid.UUID] = set()

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
            payout["id"],
            xt.signer,
            xt.hex,
            xt.hash,
            xt.nonce,
            xt.era_start,
            xt.era_period,
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
                return await self._give_back(
                    payout, "failed", found.error or "extrinsic failed", found
                )
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

    async def _included(
        self, payout: asyncpg.Record, found: Inclusion, status: str
    ) -> asyncpg.Record:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE payouts SET status = $2::text, block_number = $3, block_hash = $4,
                          extrinsic_index = $5, chain_fee = $6,
                          finalized_at = CASE WHEN $2::text = 'finalized' THEN now() END
                   WHERE id = $1 RETURNING *""",
                payout["id"],
                status,
                found.block_number,
                found.block_hash,
                found.extrinsic_index,
                found.fee,
            )
            if status == "finalized":
                await conn.execute(
                    """UPDATE creator_earnings SET last_payout_at = now()
                       WHERE creator_id IN (SELECT user_id FROM payout_items WHERE payout_id = $1)
                         AND $2::text = 'creator'""",
                    payout["id"],
                    payout["kind"],
                )
        if status == "finalized":
            PAYOUTS.labels(payout["kind"], "finalized").inc()
            PAYOUT_FEES.labels(payout["kind"]).inc(found.fee or 0)
            logger.info(
                "payouts_finalized",
                payout_id=str(payout["id"]),
                block=found.block_number,
                xt_hash=payout["extrinsic_hash"],
            )
        return row

    async def _set_status(self, payout: asyncpg.Record, status: str) -> asyncpg.Record:
        return await self.pool.fetchrow(
            "UPDATE payouts SET status = $2 WHERE id = $1 RETURNING *", payout["id"], status
        )

    async def _give_back(
        self, payout: asyncpg.Record, status: str, error: str, found: Inclusion | None = None
    ) -> asyncpg.Record:
        """A payout that did not and cannot pay: return its amounts exactly once."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE payouts SET status = $2, error = $3, block_number = $4,
                          block_hash = $5, extrinsic_index = $6, chain_fee = $8
                   WHERE id = $1 AND status = ANY($7::text[]) RETURNING *""",
                payout["id"],
                status,
                error[:500],
                found.block_number if found else None,
                found.block_hash if found else None,
                found.extrinsic_index if found else None,
                list(OPEN_STATES),
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
                await self._refund(
                    payout["id"], item["user_id"], item["amount"], row["fee_charged"]
                )
        PAYOUTS.labels(payout["kind"], status).inc()
        if found is not None:  # in a block but failed: the fee was paid all the same
            PAYOUT_FEES.labels(payout["kind"]).inc(found.fee or 0)
        logger.warning("payouts_returned", payout_id=str(payout["id"]), status=status, error=error)
        return row

    async def _refund(
        self, payout_id: uuid.UUID, user_id: uuid.UUID, amount: int, fee_charged: int
    ) -> bool:
        """Give a withdrawal that did not pay back to the viewer, fee included (a withdrawal
        that did not pay costs nothing); exactly once per payout, by idempotency key."""
        return await self.meter.credit(
            str(user_id), int(amount) + int(fee_charged), f"refund:{payout_id}"
        )

    async def recover_refunds(self) -> int:
        """Refunds a crash cut off: `_give_back` commits the failed or expired status before
        it credits the balance. Only withdrawals whose debit happened are refunded (one refused
        for want of balance never took anything). Returns how many were credited now."""
        rows = await self.pool.fetch(
            """SELECT p.id, p.fee_charged, i.user_id, i.amount
                 FROM payouts p JOIN payout_items i ON i.payout_id = p.id
                WHERE p.kind = 'withdrawal' AND p.status IN ('failed', 'expired')"""
        )
        debited = await self.meter.withdrawals_debited([_debit_key(row["id"]) for row in rows])
        credited = 0
        for row, taken in zip(rows, debited, strict=True):
            if taken and await self._refund(
                row["id"], row["user_id"], row["amount"], row["fee_charged"]
            ):
                credited += 1
                logger.warning("payouts_withdrawal_refund_recovered", payout_id=str(row["id"]))
        return credited

    async def _debit_withdrawal(
        self, payout_id: uuid.UUID, user_id: uuid.UUID, amount: int
    ) -> bool:
        """Take the amount off the balance once; a refused withdrawal is marked failed."""
        if await self.meter.debit_for_withdrawal(str(user_id), amount, _debit_key(payout_id)):
            return True
        await self.pool.execute(
            """UPDATE payouts SET status = 'failed', error = 'insufficient balance',
                      extrinsic_hex = '' WHERE id = $1 AND status = 'created'""",
            payout_id,
        )
        return False


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


def _debit_key(payout_id: uuid.UUID) -> str:
    """The idempotency key of a withdrawal's debit (the refund's is `refund:<id>`)."""
    return f"withdraw:{payout_id}"
