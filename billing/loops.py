"""The chain-facing billing loops, built the same way in the server and in worker processes."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.deposits import DepositWatcher
from billing.meter import Meter
from billing.payout_policy import PayoutPolicy, payout_threshold
from billing.payouts import Payouts
from billing.signer_lease import SignerLease


@dataclass(frozen=True)
class ChainLoops:
    escrow: Keypair
    payouts: Payouts
    deposits: DepositWatcher


async def chain_loops(
    chain: ChainClient,
    pool: asyncpg.Pool,
    meter: Meter,
    escrow_secret: str,
    policy: PayoutPolicy,
    redis: aioredis.Redis,
    lease_s: float = 15.0,
) -> ChainLoops:
    """Payouts and the deposit watcher of the escrow account behind `escrow_secret`.

    Payouts sign only while holding the escrow's signer lease in Redis (one signer per escrow).
    """
    escrow = Keypair.create_from_uri(escrow_secret, ss58_format=42)
    threshold = await payout_threshold(chain, escrow, policy)
    return ChainLoops(
        escrow,
        Payouts(
            chain,
            pool,
            meter,
            escrow,
            threshold,
            min_interval_s=policy.min_interval_s,
            lease=SignerLease(redis, meter.prefix, escrow.ss58_address, lease_s),
        ),
        DepositWatcher(chain, pool, meter, escrow.ss58_address, chain.ss58_format),
    )
