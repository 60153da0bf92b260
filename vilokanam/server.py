"""What a node process is made of: its services' URLs (started locally for `vilokanam run`,
given for `vilokanam node`), its config, and its two listeners (vilokanam/supervisor.py starts
the nodes of `vilokanam run`)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace

import structlog
from aiohttp import web

from signaling.api.ops.metrics import metrics_app
from signaling.config import AppConfig
from signaling.keys import LIVE
from signaling.runtime.drain import drain
from vilokanam.embedded import start_postgres_async, start_redis_async
from vilokanam.settings import ROOT, Settings, SettingsError
from vilokanam.signals import stop_on_signals
from vilokanam.wiring import create_app

logger = structlog.get_logger(__name__)

# Seconds a stopping node gives its viewers to move to another node (watch pages reconnect
# within 5 s of being told) before it ends what is left.
DRAIN_GRACE_S = 8.0


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


def node_app_config(config: AppConfig, node_port: int) -> AppConfig:
    """A node's config: its internal URL resolved (default http://HTTP_HOST:NODE_PORT, the real
    port when NODE_PORT was 0) and no VOD transcoding (that runs in `vilokanam worker vod`)."""
    cluster = config.cluster
    host = _reachable_host(config)
    host = f"[{host}]" if ":" in host else host
    internal_url = cluster.node_internal_url or f"http://{host}:{node_port}"
    return replace(
        config,
        cluster=cluster.model_copy(
            update={"node_internal_url": internal_url, "node_port": node_port}
        ),
        media=config.media.model_copy(update={"vod_worker": False}),
    )


def _reachable_host(config: AppConfig) -> str:
    """HTTP_HOST, unless it listens on every address (0.0.0.0, ::): then the address this node
    announces for media, which other nodes can reach too."""
    host = config.server.http_host
    if not _listens_everywhere(host):
        return host
    rtc = config.rtc
    return rtc.rtc_announced_address or next(iter(rtc.rtc_host_addresses), "127.0.0.1")


def _listens_everywhere(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return not host  # a host name: one address


def joining_urls(settings: Settings) -> ServiceUrls:
    """`vilokanam node`: the cluster's services, which it never starts itself."""
    services = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url}
    missing = [name for name, url in services.items() if not url]
    if missing:
        raise SettingsError(
            f"invalid settings: `vilokanam node` joins a cluster and needs {' and '.join(missing)}"
            " (it starts no embedded services; `vilokanam run` does)"
        )
    if not settings.is_dev and not settings.cluster.node_secret:
        raise SettingsError(
            "invalid setting NODE_SECRET: `vilokanam node` needs the cluster's node credential "
            "outside dev"
        )
    assert settings.database_url and settings.redis_url  # checked above, repeated for mypy
    return ServiceUrls(settings.database_url, settings.redis_url, settings.chain_url)


async def serve_node(settings: Settings, urls: ServiceUrls) -> None:
    """One node until SIGINT/SIGTERM: the app on the shared listener (HTTP_HOST:HTTP_PORT,
    SO_REUSEPORT, so every node of this machine binds it) and on its own (NODE_PORT)."""
    stop = stop_on_signals()
    host = settings.server.http_host
    own = socket.create_server((host, settings.cluster.node_port))
    config = node_app_config(app_config(settings, urls), own.getsockname()[1])
    async with AsyncExitStack() as stack:
        stack.callback(own.close)
        app = create_app(config)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        port = settings.server.http_port
        shared = web.TCPSite(runner, host, port, reuse_port=True)
        await shared.start()
        await web.SockSite(runner, own).start()
        await _serve_metrics(settings, app, stack)
        logger.info(
            "cluster_node_serving",
            node_id=str(app[LIVE].node_id),
            internal_url=config.cluster.node_internal_url,
            pid=os.getpid(),
        )
        await stop.wait()
        # New connections on the shared port go to the other nodes from now on; this node's own
        # listener stays up for forwarded requests while its viewers move.
        await shared.stop()
        await drain(app, DRAIN_GRACE_S)
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


def announce(settings: Settings, urls: ServiceUrls) -> None:
    """Where `vilokanam run` serves, for the one who started it."""
    base = settings.base_url
    address = settings.server.metrics_address
    metrics = f"http://{address}/metrics" if address else f"{base}/metrics"
    print(f"vilokanam is serving on {base}", flush=True)
    print(f"  home:    {base}/\n  health:  {base}/api/health\n  metrics: {metrics}", flush=True)
    if urls.chain_url:
        print(f"  chain:   {urls.chain_url}", flush=True)
