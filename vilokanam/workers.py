"""Worker roles run as their own processes: `vilokanam worker settlement|payouts|deposits`.

They need DATABASE_URL and REDIS_URL (and CHAIN_URL for the chain roles); they never start
embedded services, which belong to `vilokanam run`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
import structlog
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.deposits import DepositWatcher
from billing.meter import Meter
from billing.payouts import Payouts, payout_threshold
from billing.reconcile import Report, reconcile
from billing.settlement import Settlement
from vilokanam.settings import Settings, SettingsError

logger = structlog.get_logger(__name__)

ROLES = ("settlement", "payouts", "deposits")


@dataclass
class Connections:
    pool: asyncpg.Pool
    redis: aioredis.Redis
    chain: ChainClient | None


@asynccontextmanager
async def connections(settings: Settings, chain: bool) -> AsyncIterator[Connections]:
    if not settings.database_url or not settings.redis_url:
        raise SettingsError("invalid settings: workers need DATABASE_URL and REDIS_URL")
    if chain and not settings.chain_url:
        raise SettingsError("invalid settings: this worker needs CHAIN_URL")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    redis = aioredis.from_url(settings.redis_url)
    client = await ChainClient.connect(settings.chain_url) if chain else None
    try:
        yield Connections(pool, redis, client)
    finally:
        if client is not None:
            await client.close()
        await redis.aclose()
        await pool.close()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_worker(settings: Settings, role: str, name: str) -> None:
    stop = _stop_on_signals()
    async with connections(settings, chain=role != "settlement") as conns:
        meter = Meter(conns.redis, settings.platform_fee_bps, settings.redis_prefix)
        logger.info("worker started", role=role, name=name)
        if role == "settlement":
            await Settlement(conns.redis, conns.pool, settings.redis_prefix, name).run(stop)
            return
        assert conns.chain is not None
        escrow = Keypair.create_from_uri(settings.escrow_secret(), ss58_format=42)
        if role == "deposits":
            watcher = DepositWatcher(conns.chain, conns.pool, meter, escrow.ss58_address,
                                     conns.chain.ss58_format)
            await watcher.run(stop)
        else:
            threshold = await payout_threshold(conns.chain, escrow, settings.payout_threshold)
            payouts = Payouts(conns.chain, conns.pool, meter, escrow, threshold)
            await payouts.run(stop, interval_s=1.0)


async def run_reconcile(settings: Settings) -> Report:
    async with connections(settings, chain=bool(settings.chain_url)) as conns:
        return await reconcile(conns.pool, conns.redis, settings.redis_prefix, conns.chain)
