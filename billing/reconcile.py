"""Money invariant 3 across Redis, PostgreSQL and the chain.

Σ viewer debits = Σ creator credits + platform fee, to the planck:
  * in Redis: the meter's kept totals;
  * in PostgreSQL: settled batches, stream-view and tip payments and creator earnings;
  * between the two: what Redis charged equals what PostgreSQL settled plus the ledger entries
    not yet settled;
  * on chain: every finalized payout is in the block recorded for it, succeeded, and creators'
    earnings = still pending + in open payouts + paid in finalized payouts;
  * the escrow can pay what it owes: its free balance on chain >= viewers' balances + creators'
    earnings not yet paid + withdrawals not yet paid (amount and fee) + the existential deposit
    it must keep (test_reconcile_fails_when_the_escrow_is_short).
Tested by tests/billing/test_reconcile.py and the end-to-end billing test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis

from billing.chain import ChainClient
from billing.ledger import entry_sums, ledger_key
from billing.meter import Meter, Totals
from billing.parking import ParkedItem, list_parked, refresh_open_gauge


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    # Items a loop parked and no operator resolved yet: accounted for (not lost), listed so
    # someone acts on them; they do not fail the checks.
    parked: list[ParkedItem] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def text(self) -> str:
        lines = [f"{'ok  ' if ok else 'FAIL'} {name}: {detail}" for name, ok, detail in self.checks]
        lines += [
            f"PARK {item.kind} {item.ref}"
            + (f" amount {item.amount}" if item.amount is not None else "")
            + f" since {item.parked_at:%Y-%m-%d %H:%M:%S}: {item.reason}"
            for item in self.parked
        ]
        if self.parked:
            lines.append(
                f"reconcile: {len(self.parked)} parked item(s) need an operator "
                "(vilokanam parked retry|resolve KIND REF)"
            )
        lines.append("reconcile: all checks passed" if self.ok else "reconcile: DIFFERENCES FOUND")
        return "\n".join(lines)


async def _unsettled(
    redis: aioredis.Redis, pool: asyncpg.Pool, prefix: str
) -> tuple[int, int, int]:
    """Σ (amount, creator_amount, fee) of ledger entries PostgreSQL has not applied yet.

    Settlement trims what it applied, so the stream holds little more than what is pending.
    """
    amount = creator = fee = 0
    start = "-"
    while page := await redis.xrange(ledger_key(prefix), min=start, count=1000):
        entries = {(i.decode() if isinstance(i, bytes) else i): f for i, f in page}
        start = f"({next(reversed(entries))}"  # exclusive: the next page starts after these
        settled = {
            row["batch_id"]
            for row in await pool.fetch(
                "SELECT batch_id FROM settled_batches WHERE batch_id = ANY($1::text[])",
                list(entries),
            )
        }
        for entry_id, fields in entries.items():
            if entry_id in settled:
                continue
            sums = entry_sums(fields)
            amount, creator, fee = amount + sums[0], creator + sums[1], fee + sums[2]
    return amount, creator, fee


async def reconcile(
    pool: asyncpg.Pool,
    redis: aioredis.Redis,
    prefix: str,
    chain: ChainClient | None,
    escrow: str | None = None,
) -> Report:
    """Run every check; the escrow's solvency only with a chain and the escrow's address."""
    report = Report()
    totals = await Meter(redis, 0, prefix).totals()
    report.check(
        "redis debits = credits + fee",
        totals.debits == totals.creator_credits + totals.fees,
        f"{totals.debits} = {totals.creator_credits} + {totals.fees}",
    )
    pg = await pool.fetchrow(
        """SELECT COALESCE(sum(amount), 0) AS amount, COALESCE(sum(creator_amount), 0) AS creator,
                  COALESCE(sum(fee), 0) AS fee FROM settled_batches"""
    )
    amount, creator, fee = int(pg["amount"]), int(pg["creator"]), int(pg["fee"])
    report.check(
        "postgres debits = credits + fee", amount == creator + fee, f"{amount} = {creator} + {fee}"
    )
    payments = await pool.fetchrow(
        """SELECT COALESCE(sum(amount), 0) AS amount, COALESCE(sum(fee), 0) AS fee
           FROM payments WHERE payment_type IN ('stream_view', 'tip')"""
    )
    report.check(
        "postgres payments = settled batches",
        (int(payments["amount"]), int(payments["fee"])) == (amount, fee),
        f"payments {payments['amount']} (fee {payments['fee']}), batches {amount}",
    )
    earnings = int(
        await pool.fetchval("SELECT COALESCE(sum(total_earnings), 0) FROM creator_earnings")
    )
    report.check(
        "postgres creator earnings = settled credits",
        earnings == creator,
        f"{earnings} = {creator}",
    )
    pending = await _unsettled(redis, pool, prefix)
    report.check(
        "redis = postgres + unsettled ledger",
        (totals.debits, totals.creator_credits, totals.fees)
        == (amount + pending[0], creator + pending[1], fee + pending[2]),
        f"redis {totals.debits}, postgres {amount}, unsettled {pending[0]}",
    )
    await _check_payouts(pool, chain, report)
    report.parked = await list_parked(pool)
    await refresh_open_gauge(pool)
    if chain is not None and escrow is not None:
        await _check_escrow(pool, totals, chain, escrow, report)
    return report


async def _check_payouts(pool: asyncpg.Pool, chain: ChainClient | None, report: Report) -> None:
    split = await pool.fetchrow(
        """SELECT
             (SELECT COALESCE(sum(total_earnings), 0) FROM creator_earnings) AS earned,
             (SELECT COALESCE(sum(pending_payout), 0) FROM creator_earnings) AS pending,
             (SELECT COALESCE(sum(i.amount), 0) FROM payout_items i JOIN payouts p
                ON p.id = i.payout_id WHERE p.kind = 'creator'
                AND p.status NOT IN ('failed', 'expired')) AS paid_or_paying"""
    )
    earned, pending, paying = (int(split[k]) for k in ("earned", "pending", "paid_or_paying"))
    report.check(
        "earnings = pending + paid/paying",
        earned == pending + paying,
        f"{earned} = {pending} + {paying}",
    )
    if chain is None:
        report.check("chain", True, "not connected: on-chain payouts not checked")
        return
    finalized = await pool.fetch(
        "SELECT id, extrinsic_hash, block_number FROM payouts WHERE status = 'finalized'"
    )
    missing = []
    for payout in finalized:
        found = await chain.find_extrinsic(
            payout["extrinsic_hash"], payout["block_number"], payout["block_number"]
        )
        if found is None or not found.success:
            missing.append(str(payout["id"]))
    report.check(
        "finalized payouts are on chain",
        not missing,
        f"{len(finalized) - len(missing)}/{len(finalized)} found"
        + (f"; missing {', '.join(missing[:5])}" if missing else ""),
    )


async def _check_escrow(
    pool: asyncpg.Pool, totals: Totals, chain: ChainClient, escrow: str, report: Report
) -> None:
    """The escrow's free balance covers everything it owes, and keeps it alive.

    Viewers' balances are the meter's deposits and refunds minus charges and withdrawals (kept
    in the same atomic script as the balances). Creators are owed all they earned in Redis but
    what is in a block already; withdrawals on their way owe their amount and fee. A payout in a
    block is paid: the free balance is read at the best head, which holds it.
    """
    unpaid = await pool.fetchrow(
        """SELECT
             COALESCE(sum(i.amount) FILTER (WHERE p.kind = 'creator'
                                               AND p.status IN ('in_block', 'finalized')), 0)
               AS creators_paid,
             COALESCE(sum(i.amount + p.fee_charged) FILTER (
                 WHERE p.kind = 'withdrawal'
                   AND p.status IN ('created', 'signed', 'submitted')), 0) AS withdrawals
           FROM payouts p JOIN payout_items i ON i.payout_id = p.id"""
    )
    # A parked deposit was never credited, yet the escrow holds it for its depositor.
    parked = int(
        await pool.fetchval(
            """SELECT COALESCE(sum(amount), 0) FROM parked_items
           WHERE kind = 'deposit' AND resolved_at IS NULL"""
        )
    )
    viewers = totals.deposits - totals.withdrawals - totals.debits
    creators = totals.creator_credits - int(unpaid["creators_paid"])
    withdrawals = int(unpaid["withdrawals"])
    keep = await chain.existential_deposit()
    owed = viewers + creators + withdrawals + parked + keep
    free = await chain.free_balance(escrow)
    report.check(
        "escrow covers what it owes",
        free >= owed,
        f"free {free} >= viewers {viewers} + creators {creators} + withdrawals {withdrawals}"
        f" + parked deposits {parked}"
        f" + existential deposit {keep} (margin {free - owed})",
    )
