"""What a withdrawal takes off my balance: where to, how much, and its transaction fee.

A withdrawal costs its transaction fee, paid by the viewer: `GET /api/me/withdraw/quote` shows
it before they confirm, `POST /api/me/withdraw` takes amount + fee off the balance (409 when the
fee rose above the quote the viewer accepted).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from billing import MAX_BALANCE, public_key, to_ss58
from signaling.http.errors import ApiError
from signaling.http.json import planck
from signaling.runtime.billing import BillingRuntime


@dataclass(frozen=True)
class WithdrawalTerms:
    dest: str
    amount: int
    fee: int

    def body(self) -> dict[str, str]:
        return {
            "amount": planck(self.amount),
            "fee": planck(self.fee),
            "total": planck(self.amount + self.fee),
            "to": self.dest,
        }


async def terms(
    billing: BillingRuntime, user: asyncpg.Record, amount_text: str, to: str | None
) -> WithdrawalTerms:
    """Where to, how much, and the fee the viewer pays; 400 for what the chain cannot pay."""
    assert billing.chain is not None and billing.payouts is not None  # chain_billing checked
    try:
        dest = to_ss58(public_key(to or user["account_id"]), billing.chain.ss58_format)
    except ValueError:
        raise ApiError(400, f"not a valid SS58 address: {to!r}", "invalid_address") from None
    amount = int(amount_text)
    if amount > MAX_BALANCE:  # no balance holds more: refused before any fee is asked of the chain
        raise ApiError(
            400, f"amount is above the largest balance ({MAX_BALANCE} planck)", "amount_too_large"
        )
    if amount < billing.existential_deposit:
        raise ApiError(
            400,
            f"the smallest withdrawal is {billing.existential_deposit} planck "
            "(the chain's existential deposit)",
        )
    return WithdrawalTerms(dest, amount, await billing.payouts.withdrawal_fee(dest, amount))
