"""Redis-backed fixed-window rate limits: they hold across every process of the server.

Over the limit a request gets 429 with Retry-After (seconds to the window's end) and a JSON
message; nothing it asked for is done. WebSocket frames use `retry_after` and answer with an
error frame instead.
"""

from __future__ import annotations

from aiohttp import web

from signaling.errors import ApiError
from signaling.keys import CONFIG, REDIS


async def retry_after(
    app: web.Application, bucket: str, who: str, limit: int, window_s: int
) -> int | None:
    """Count one event of `who` in `bucket`: None when allowed, else seconds to wait."""
    key = f"{app[CONFIG].redis_prefix}rate:{bucket}:{who}"
    async with app[REDIS].pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_s, nx=True)
        pipe.ttl(key)
        count, _, ttl = await pipe.execute()
    return max(int(ttl), 1) if count > limit else None


async def enforce(request: web.Request, bucket: str, who: str, limit: int, window_s: int) -> None:
    """Count one request of `who` in `bucket`; 429 once `limit` were made in this window."""
    retry = await retry_after(request.app, bucket, who, limit, window_s)
    if retry is not None:
        raise ApiError(429, f"too many requests; retry in {retry} s",
                       headers={"Retry-After": str(retry)})


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"
