"""When creators are paid: few payouts, each large enough that its fee is a small part of it.

Each payout is one extrinsic whose transaction fee the escrow pays; for creator payouts that is
the platform, out of its platform fee (viewers pay the fee of their own withdrawals, see
billing/payouts.py). Paying a busy creator every round made fees 10-20 % of what was paid, so a
creator is paid only when both hold:
  * their pending earnings reach the minimum amount: `min_amount` if configured, else derived
    from the measured fee of a payout so that fee / amount <= `max_fee_bps`;
  * their last payout (not failed or expired) is at least `min_interval_s` old.
A batch pays many creators in one extrinsic; its fee grows by less than one single payout's fee
per creator, so each creator's share stays within the bound too.
Tested by tests/billing/test_payout_fees.py (test_busy_creator_gets_few_cheap_payouts).
"""

from __future__ import annotations

from dataclasses import dataclass

from substrateinterface import Keypair

from billing.chain import ChainClient

BPS_DENOMINATOR = 10_000


@dataclass(frozen=True)
class PayoutPolicy:
    min_amount: int = 0
    """Smallest creator payout in planck; 0: derived from the fee and `max_fee_bps`."""
    min_interval_s: float = 3600.0
    """Seconds between two payouts to one creator."""
    max_fee_bps: int = 50
    """Largest fee / amount of a derived minimum payout, in basis points (50: 0.5 %)."""

    def __post_init__(self) -> None:
        if self.min_amount < 0 or self.min_interval_s < 0:
            raise ValueError("min_amount and min_interval_s must not be negative")
        if not 1 <= self.max_fee_bps <= BPS_DENOMINATOR:
            raise ValueError(f"max_fee_bps must be within 1..{BPS_DENOMINATOR}")


def amount_for_fee(fee: int, max_fee_bps: int) -> int:
    """The smallest amount of which ``fee`` is at most ``max_fee_bps`` basis points."""
    return -(-fee * BPS_DENOMINATOR // max_fee_bps)


async def payout_threshold(chain: ChainClient, escrow: Keypair, policy: PayoutPolicy) -> int:
    """Smallest creator payout: the policy's amount, and never below ED + the payout's fee.

    Below the existential deposit a transfer to a new account fails; below the fee, paying out
    would cost the platform more than it moves. The fee is measured for a payout of the amount
    itself (a larger amount encodes in a few more bytes, and bytes cost).
    """
    deposit = await chain.existential_deposit()
    amount = deposit
    for _ in range(2):  # the fee of the derived amount: its encoding may be a little longer
        fee = await chain.estimate_fee(escrow, [(escrow.ss58_address, amount)])
        wanted = policy.min_amount or amount_for_fee(fee, policy.max_fee_bps)
        amount = max(wanted, deposit + fee)
    return amount
