"""`vilokanam run`: start what is missing locally, migrate, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

import structlog
from aiohttp import web

from signaling.api.ops.metrics import metrics_app
from signaling.config import AppConfig
from vilokanam.embedded import start_postgres_async, start_redis_async
from vilokanam.migrate import migrate
from vilokanam.settings import ROOT, Settings
from vilokanam.signals import stop_on_signals
from vilokanam.wiring import create_app

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str
    chain_url: str | None


async def local_services(
    settings: Settings, stack: AsyncExitStack, chain: bool = True
) -> ServiceUrls:
    """URLs of PostgreSQL, Redis and the chain, starting local ones (dev only) where none is set."""
    database_url, redis_url, chain_url = (
        settings.database_url,
        settings.redis_url,
        settings.chain_url,
    )
    if database_url is None:
        postgres = await start_postgres_async(settings.var_dir)
        stack.callback(postgres.stop)
        database_url = postgres.url
    if redis_url is None:
        redis = await start_redis_async(settings.var_dir)
        stack.callback(redis.stop)
        redis_url = redis.url
    if chain_url is None and chain and settings.is_dev:
        from vilokanam.devchain import ensure_npm_installed, start_dev_chain

        await asyncio.to_thread(ensure_npm_installed, ROOT)
        dev_chain = await start_dev_chain(ROOT, var_dir=settings.var_dir / "chain")
        stack.push_async_callback(dev_chain.stop)
        chain_url = dev_chain.url
    return ServiceUrls(database_url, redis_url, chain_url)


def app_config(settings: Settings, urls: ServiceUrls) -> AppConfig:
    """The settings sections, as read, plus what was resolved at start."""
    return AppConfig(
        database_url=urls.database_url,
        redis_url=urls.redis_url,
        public_url=settings.base_url,
        dev_mode=settings.is_dev,
        chain_url=urls.chain_url,
        chain_public_url=settings.chain_public_url or urls.chain_url,
        escrow_seed=settings.escrow_secret() if urls.chain_url else None,
        # Production never exposes metrics openly on the public listener.
        metrics_on_main=settings.is_dev and settings.server.metrics_address is None,
        # Each section by its field name: mypy cannot pair a dict's values with the fields.
        **settings.sections(),  # type: ignore[arg-type]
    )


async def serve(settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        urls = await local_services(settings, stack)
        applied = await migrate(urls.database_url)
        logger.info("server_database_ready", migrations_applied=len(applied))
        app = create_app(app_config(settings, urls))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, settings.server.http_host, settings.server.http_port).start()
        await _serve_metrics(settings, app, stack)
        _announce(settings, urls)
        await stop_on_signals().wait()
        logger.info("server_shutting_down")


async def _serve_metrics(settings: Settings, app: web.Application, stack: AsyncExitStack) -> None:
    """/metrics on its own listener (METRICS_ADDRESS), kept off the public one."""
    listener = settings.server.metrics_listener
    if listener is None:
        return
    runner = web.AppRunner(metrics_app(app), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, *listener).start()


def _announce(settings: Settings, urls: ServiceUrls) -> None:
    base = settings.base_url
    address = settings.server.metrics_address
    metrics = f"http://{address}/metrics" if address else f"{base}/metrics"
    print(f"vilokanam is serving on {base}", flush=True)
    print(f"  home:    {base}/\n  health:  {base}/api/health\n  metrics: {metrics}", flush=True)
    if urls.chain_url:
        print(f"  chain:   {urls.chain_url}", flush=True)
