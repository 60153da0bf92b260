"""Redis-backed fixed-window rate limits: they hold across every process of the server.

Over the limit a request gets 429 with Retry-After (seconds to the window's end) and a JSON
message; nothing it asked for is done. WebSocket frames use `retry_after` and answer with an
error frame instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from aiohttp import web

from signaling.http.errors import ApiError
from signaling.keys import CONFIG, REDIS


async def retry_after(
    app: web.Application, bucket: str, who: str, limit: int, window_s: int
) -> int | None:
    """Count one event of `who` in `bucket`: None when allowed, else seconds to wait."""
    key = f"{app[CONFIG].server.redis_prefix}rate:{bucket}:{who}"
    async with app[REDIS].pipeline(transaction=True) as pipe:
        # The window starts with the first event (SET NX EX: EXPIRE NX needs Redis 7, the
        # embedded server is 6.2); INCR keeps the key's expiry.
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = await pipe.execute()
    return max(int(ttl), 1) if count > limit else None


async def enforce(
    request: web.Request,
    bucket: str,
    who: str,
    limit: int,
    window_s: int,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Count one request of `who` in `bucket`; 429 (with `headers` too, e.g. CORS) once `limit`
    were made in this window."""
    retry = await retry_after(request.app, bucket, who, limit, window_s)
    if retry is not None:
        raise ApiError(
            429,
            f"too many requests; retry in {retry} s",
            headers={**(headers or {}), "Retry-After": str(retry)},
        )


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


# Atomically: forget slots older than the max age (their process died without releasing), then
# take one if fewer than the cap are held. KEYS[1] the set; ARGV now, max age, cap, slot id.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


async def take_slot(
    app: web.Application, bucket: str, who: str, slot: str, cap: int, max_age_s: int
) -> bool:
    """Hold one of `cap` concurrent slots of `who` (e.g. open sockets); False when all are held.

    Held slots count for at most `max_age_s`, so a killed process cannot block a user forever.
    """
    taken = await app[REDIS].eval(
        _TAKE_SLOT, 1, _slots_key(app, bucket, who), int(time.time()), max_age_s, cap, slot
    )
    return bool(taken)


async def release_slot(app: web.Application, bucket: str, who: str, slot: str) -> None:
    await app[REDIS].zrem(_slots_key(app, bucket, who), slot)


def _slots_key(app: web.Application, bucket: str, who: str) -> str:
    return f"{app[CONFIG].server.redis_prefix}slots:{bucket}:{who}"
