"""Idempotency keys on money-moving requests, Stripe style (`POST /api/me/withdraw`, tips).

A client sends `Idempotency-Key: <1-255 printable characters>` (optional; without one every
request is new). Per user and key, for KEPT_S (24 h):
  * the first request runs and its answer (status and body, errors included) is kept;
  * a retry with the same method, path and body gets that answer again (header
    `Idempotent-Replayed: true`) and moves no money;
  * the same key with another request answers 422 `idempotency_key_reused`;
  * a retry while the first is still running answers 409 `idempotency_key_in_use` with
    Retry-After: nothing runs twice at once.

What makes it safe against a server killed mid-request is not this record but the id of the
money move: `operation_id(user, key)` is derived from the key, so a retry after a kill (the
record was never written, the in-flight mark lapses within LOCK_S) runs again with the same
payment or payout id, and billing's own exactly-once per id (meter.lua's `idem` hash, payout
ids) answers the first outcome instead of moving money again
(tests/signaling/test_tips_http.py::test_sigkill_mid_tip_then_retry_moves_money_once).

Records live in Redis under `{prefix}idem-http:{user}:{sha256(key)}`: the in-flight mark
(expires LOCK_S after its last refresh, refreshed while the request runs), then the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

import structlog
from aiohttp import web
from pydantic import BaseModel

from signaling.http.errors import ApiError
from signaling.keys import CONFIG, REDIS

logger = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEPT_S = 24 * 3600
"""How long an answer is kept for replay (Stripe keeps 24 h)."""
LOCK_S = 6.0
"""How long an in-flight mark outlives its last refresh: a killed server's request may be
retried this long after it died."""
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_NAMESPACE = uuid.UUID("5b0f3c1e-7d84-4f0e-9a51-2f6b1c9d7e20")
"""Namespace of operation ids (never change it: retries after an upgrade must find theirs)."""

Run = Callable[[uuid.UUID], Awaitable[web.Response]]


def read_key(request: web.Request) -> str | None:
    """The request's Idempotency-Key, or None; 400 when it is empty, too long or not printable."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise ApiError(
            400,
            f"{HEADER} must be 1 to 255 printable ASCII characters (e.g. a UUID)",
            "invalid_idempotency_key",
        )
    return key


def operation_id(user_id: uuid.UUID, key: str | None) -> uuid.UUID:
    """The id of the money move a request makes: derived from (user, key), random without one."""
    return uuid.uuid5(_NAMESPACE, f"{user_id}\n{key}") if key is not None else uuid.uuid4()


def _fingerprint(request: web.Request, body: BaseModel) -> str:
    text = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{text}".encode()).hexdigest()


def _slot(request: web.Request, user_id: uuid.UUID, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{request.app[CONFIG].server.redis_prefix}idem-http:{user_id}:{digest}"


async def once(request: web.Request, user_id: uuid.UUID, body: BaseModel, run: Run) -> web.Response:
    """`run(operation_id)` once per (user, Idempotency-Key), or the answer it gave before."""
    key = read_key(request)
    op_id = operation_id(user_id, key)
    if key is None:
        return await run(op_id)
    redis = request.app[REDIS]
    slot, fingerprint = _slot(request, user_id, key), _fingerprint(request, body)
    mark = json.dumps({"fp": fingerprint, "running": secrets.token_hex(8)})
    if not await redis.set(slot, mark, nx=True, px=int(LOCK_S * 1000)):
        return _earlier(cast(bytes | None, await redis.get(slot)), fingerprint)
    keeper = asyncio.create_task(_keep_marked(request, slot, mark))
    try:
        response = await _answer(run, op_id)
    except BaseException:
        await _stop(keeper)
        await _unmark(request, slot, mark)  # a retry may run it again: same operation id
        raise
    await _stop(keeper)
    if response.status >= 500:
        await _unmark(request, slot, mark)
        return response
    kept = {"fp": fingerprint, "status": response.status, "body": response.text}
    await redis.set(slot, json.dumps(kept), ex=KEPT_S)
    return response


async def _answer(run: Run, op_id: uuid.UUID) -> web.Response:
    """run's response, its refusals (ApiError) included: those are answers to keep too."""
    try:
        return await run(op_id)
    except ApiError as exc:
        return web.Response(status=exc.status, text=exc.text, content_type="application/json")


def _earlier(raw: bytes | None, fingerprint: str) -> web.Response:
    """The answer for a key already taken: 422 (another request), 409 (running), or a replay."""
    record = json.loads(raw) if raw else None
    if record is not None and record["fp"] != fingerprint:
        raise ApiError(
            422,
            f"this {HEADER} was already used for a different request (another path or body); "
            "use a new key for a new request",
            "idempotency_key_reused",
        )
    if record is None or "running" in record:
        raise ApiError(
            409,
            f"a request with this {HEADER} is still being processed; retry shortly",
            "idempotency_key_in_use",
            headers={"Retry-After": "1"},
        )
    return web.Response(
        status=record["status"],
        text=record["body"],
        content_type="application/json",
        headers={REPLAYED: "true"},
    )


async def _keep_marked(request: web.Request, slot: str, mark: str) -> None:
    """Refresh the in-flight mark while the request runs (a slow chain must not lapse it)."""
    redis = request.app[REDIS]
    while True:
        await asyncio.sleep(LOCK_S / 3)
        if cast(bytes | None, await redis.get(slot)) == mark.encode():
            await redis.pexpire(slot, int(LOCK_S * 1000))


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _unmark(request: web.Request, slot: str, mark: str) -> None:
    redis = request.app[REDIS]
    with contextlib.suppress(Exception):  # at worst the mark lapses after LOCK_S
        if cast(bytes | None, await redis.get(slot)) == mark.encode():
            await redis.delete(slot)
