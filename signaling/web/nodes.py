"""Origins of the cluster's living nodes: where a full node may send the watch page's WHEP."""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from signaling.keys import REGISTRY

logger = structlog.get_logger(__name__)


def origin(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL; None for anything else (nothing else enters a
    Content-Security-Policy)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    if any(c in parts.netloc for c in " ;,'\""):
        return None
    return f"{parts.scheme}://{parts.netloc}"


async def node_origins(request: web.Request) -> list[str]:
    """The internal URLs' origins of every living node (none when the registry is down)."""
    try:
        cards = await request.app[REGISTRY].nodes()
    except (RedisError, OSError) as exc:
        logger.warning("cluster_node_origins_failed", error=str(exc))
        return []
    return [o for card in cards if (o := origin(card.internal_url)) is not None]
