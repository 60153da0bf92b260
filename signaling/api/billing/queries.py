"""Named queries on payouts and withdrawals, shared by my lists and the creator dashboard."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg

from signaling.db import Db
from signaling.http.pagination import Cursor, keyset_args

# Withdrawals on their way to the chain: their amount and fee are reserved from the balance.
OPEN_WITHDRAWALS = ["created", "signed", "submitted", "in_block"]

# The fee of one recipient's share of a payout: a withdrawal's fee is the viewer's own (charged
# with it); a creator payout's transaction fee, paid by the platform, is split over the batch by
# amount (NULL until the payout is in a block).
FEE_OF_ITEM = """CASE WHEN p.kind = 'withdrawal' THEN p.fee_charged
                      ELSE floor(p.chain_fee * i.amount / p.total) END"""


async def reserved(db: Db, user_id: uuid.UUID) -> Decimal:
    """What the user's open withdrawals hold back: their amounts and fees (NUMERIC planck)."""
    held: Decimal = await db.fetchval(
        """SELECT COALESCE(sum(i.amount + p.fee_charged), 0) FROM payout_items i
           JOIN payouts p ON p.id = i.payout_id
           WHERE i.user_id = $1 AND p.kind = 'withdrawal' AND p.status = ANY($2::text[])""",
        user_id,
        OPEN_WITHDRAWALS,
    )
    return held


async def payouts(
    db: Db, kind: str, user_id: uuid.UUID, after: Cursor | None, limit: int
) -> list[asyncpg.Record]:
    """One page of a user's payouts of `kind` ('creator' or 'withdrawal'): their own share."""
    return await db.fetch(
        f"""SELECT p.id, p.status, i.amount, i.dest_account, p.extrinsic_hash, p.block_number,
                  p.block_hash, p.error, p.created_at, p.updated_at, p.finalized_at,
                  {FEE_OF_ITEM} AS fee
           FROM payouts p JOIN payout_items i ON i.payout_id = p.id
           WHERE p.kind = $1 AND i.user_id = $2
             AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3, $4::uuid))
           ORDER BY p.created_at DESC, p.id DESC
           LIMIT $5""",  # noqa: S608 - a constant
        kind,
        user_id,
        *keyset_args(after),
        limit,
    )
