"""Worker roles run as their own processes: `vilokanam worker settlement|payouts|deposits|vod`;
and the one-shot commands over the same services (reconcile, parked, cluster).

They need DATABASE_URL (and REDIS_URL for billing roles, CHAIN_URL for the chain roles); they
never start embedded services, which belong to `vilokanam run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis
import structlog
from substrateinterface import Keypair

from billing import (
    ChainClient,
    Meter,
    PayoutPolicy,
    Report,
    Settlement,
    chain_loops,
    parking,
    reconcile,
)
from recorder import default_owner, run_vod_worker
from signaling.background import supervise
from signaling.cluster.overview import overview
from signaling.cluster.registry import Registry
from vilokanam.settings import Settings, SettingsError
from vilokanam.signals import stop_on_signals

logger = structlog.get_logger(__name__)

CHAIN_ROLES = ("payouts", "deposits")


@dataclass
class Connections:
    pool: asyncpg.Pool
    redis: aioredis.Redis | None
    chain: ChainClient | None


@asynccontextmanager
async def connections(settings: Settings, redis: bool, chain: bool) -> AsyncIterator[Connections]:
    if not settings.database_url or (redis and not settings.redis_url):
        needs = "DATABASE_URL and REDIS_URL" if redis else "DATABASE_URL"
        raise SettingsError(f"invalid settings: this worker needs {needs}")
    if chain and not settings.chain_url:
        raise SettingsError("invalid settings: this worker needs CHAIN_URL")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=4)
    # The checks above make both URLs set when asked for; the conditions repeat them for mypy.
    client = aioredis.from_url(settings.redis_url) if redis and settings.redis_url else None
    node = await ChainClient.connect(settings.chain_url) if chain and settings.chain_url else None
    try:
        yield Connections(pool, client, node)
    finally:
        if node is not None:
            await node.close()
        if client is not None:
            await client.aclose()
        await pool.close()


async def run_worker(settings: Settings, role: str, name: str) -> None:
    stop = stop_on_signals()
    async with connections(settings, redis=role != "vod", chain=role in CHAIN_ROLES) as conns:
        logger.info("worker_started", role=role, name=name)
        await supervise(role, await _role_loop(settings, role, name, conns, stop), stop)


async def _role_loop(
    settings: Settings, role: str, name: str, conns: Connections, stop: asyncio.Event
) -> Callable[[], Awaitable[object]]:
    """The loop of one worker role, to run (and restart) under the supervisor."""
    if role == "vod":
        # The lease owner must be unique per process: a dead worker's lease is told apart.
        return lambda: run_vod_worker(
            conns.pool,
            settings.media.media_root,
            stop,
            owner=f"{name}@{default_owner()}",
            lease_s=settings.media.vod_lease_s,
        )
    assert conns.redis is not None
    if role == "settlement":
        settlement = Settlement(conns.redis, conns.pool, settings.server.redis_prefix, name)
        return lambda: settlement.run(stop)
    assert conns.chain is not None
    meter = Meter(conns.redis, settings.billing.platform_fee_bps, settings.server.redis_prefix)
    loops = await chain_loops(
        conns.chain,
        conns.pool,
        meter,
        settings.escrow_secret(),
        payout_policy(settings),
        conns.redis,
        settings.billing.payout_lease_s,
    )
    if role == "deposits":
        return lambda: loops.deposits.run(stop)
    return lambda: loops.payouts.run(stop, interval_s=settings.billing.payout_interval_s)


def payout_policy(settings: Settings) -> PayoutPolicy:
    return PayoutPolicy(
        settings.billing.payout_threshold,
        settings.billing.payout_min_interval_s,
        settings.billing.payout_max_fee_bps,
    )


async def run_reconcile(settings: Settings) -> Report:
    async with connections(settings, redis=True, chain=bool(settings.chain_url)) as conns:
        assert conns.redis is not None
        escrow = None
        if conns.chain is not None:  # its free balance must cover what it owes
            escrow = Keypair.create_from_uri(settings.escrow_secret()).ss58_address
        return await reconcile(
            conns.pool, conns.redis, settings.server.redis_prefix, conns.chain, escrow
        )


async def handle_parked(
    settings: Settings, action: str, kind: parking.Kind, ref: str, note: str
) -> bool:
    """`vilokanam parked retry|resolve`: False when no such open parked item exists."""
    async with connections(settings, redis=False, chain=False) as conns:
        if action == "retry":
            return await parking.retry(conns.pool, kind, ref)
        return await parking.resolve(conns.pool, kind, ref, note)


async def cluster_overview(settings: Settings) -> dict[str, Any]:
    """`vilokanam cluster`: the registry's view of the cluster under REDIS_PREFIX."""
    if not settings.redis_url:
        raise SettingsError("invalid settings: `vilokanam cluster` needs REDIS_URL")
    client = aioredis.from_url(settings.redis_url)
    try:
        return await overview(Registry(client, settings.server.redis_prefix, "vilokanam-cluster"))
    finally:
        await client.aclose()
