"""Billing: metering in Redis, settlement to PostgreSQL, deposits and payouts on chain.

Knows nothing of WebRTC or HTTP. The rest of the server uses what is exported here.
"""

from billing import parking
from billing.accounts import public_key, to_ss58
from billing.chain import ChainClient, ChainExpired, ChainRejected, ChainTimeout
from billing.ledger import Payment
from billing.loops import ChainLoops, chain_loops
from billing.meter import MAX_BALANCE, BatchResult, ChargeStatus, Meter
from billing.payout_policy import PayoutPolicy, payout_threshold
from billing.payouts import OPEN_STATES, PayoutError, Payouts
from billing.reconcile import Report, reconcile
from billing.settlement import Settlement
from billing.tick import Delivery, TickService, ViewInfo
from billing.users_db import USER_COLUMNS, ensure_user

__all__ = [
    "MAX_BALANCE",
    "OPEN_STATES",
    "USER_COLUMNS",
    "BatchResult",
    "ChainClient",
    "ChainExpired",
    "ChainRejected",
    "ChainTimeout",
    "ChainLoops",
    "ChargeStatus",
    "Delivery",
    "Meter",
    "Payment",
    "PayoutError",
    "PayoutPolicy",
    "Payouts",
    "Report",
    "Settlement",
    "TickService",
    "ViewInfo",
    "chain_loops",
    "ensure_user",
    "parking",
    "payout_threshold",
    "public_key",
    "reconcile",
    "to_ss58",
]
