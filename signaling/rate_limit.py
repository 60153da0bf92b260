"""Redis-backed fixed-window rate limits: they hold across every process of the server.

Over the limit a request gets 429 with Retry-After (seconds to the window's end) and a JSON
message; nothing it asked for is done.
"""

from __future__ import annotations

from aiohttp import web

from signaling.errors import ApiError
from signaling.keys import CONFIG, REDIS


async def enforce(request: web.Request, bucket: str, who: str, limit: int, window_s: int) -> None:
    """Count one request of `who` in `bucket`; 429 once `limit` were made in this window."""
    key = f"{request.app[CONFIG].redis_prefix}rate:{bucket}:{who}"
    async with request.app[REDIS].pipeline(transaction=True) as pipe:
        # The window starts with the first request (SET NX EX: EXPIRE NX needs Redis 7, the
        # embedded server is 6.2); INCR keeps the key's expiry.
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = await pipe.execute()
    if count > limit:
        retry = max(int(ttl), 1)
        raise ApiError(429, f"too many requests; retry in {retry} s",
                       headers={"Retry-After": str(retry)})


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"
