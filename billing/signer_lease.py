"""One payout signer per escrow account, however many processes run payouts.

Two signers for one account reuse nonces: their payouts collide and stay `submitted`. The signer
holds a Redis lease (SET NX PX) named after the escrow account and renews it in the background;
another process stands by until the lease is free. A holder checks `held()` (a local deadline,
one renewal margin short of the lease's expiry in Redis) before every signature, so once a
renewal fails it stops signing before anyone else can start
(test_second_payout_signer_stands_by_until_the_lease_is_free in tests/billing/test_signer_lease.py).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from functools import cache
from pathlib import Path

import redis.asyncio as aioredis
import structlog
from prometheus_client import Gauge

logger = structlog.get_logger(__name__)

SIGNER = Gauge(
    "vilokanam_payout_signer", "1 while this process holds an escrow's signer lease", ["escrow"]
)


@cache
def _script_source() -> str:
    return Path(__file__).with_name("signer_lease.lua").read_text()


class SignerLease:
    def __init__(
        self, redis: aioredis.Redis, prefix: str, escrow: str, ttl_s: float = 15.0
    ) -> None:
        self.redis = redis
        self.key = f"{prefix}signer:{escrow}"
        self.escrow = escrow
        self.ttl_ms = int(ttl_s * 1000)
        self.owner = f"{socket.gethostname()}:{secrets.token_hex(8)}"
        self._valid_until = 0.0
        self._script = redis.register_script(_script_source())

    def held(self) -> bool:
        """True while this process may sign (its lease cannot have expired in Redis)."""
        return time.monotonic() < self._valid_until

    def _mark(self, started: float) -> None:
        # the lease in Redis lives ttl from the call; keep a third of it as margin for clocks
        self._valid_until = started + self.ttl_ms / 1000 * 2 / 3
        SIGNER.labels(self.escrow).set(1)

    def _lost(self) -> None:
        self._valid_until = 0.0
        SIGNER.labels(self.escrow).set(0)

    async def acquire(self) -> bool:
        """Take the lease if it is free (or already ours)."""
        started = time.monotonic()
        if await self.redis.set(
            self.key, self.owner, nx=True, px=self.ttl_ms
        ) or await self._script(keys=[self.key], args=["renew", self.owner, self.ttl_ms]):
            self._mark(started)
            return True
        return False

    async def renew(self) -> bool:
        started = time.monotonic()
        if self.held() and await self._script(
            keys=[self.key], args=["renew", self.owner, self.ttl_ms]
        ):
            self._mark(started)
            return True
        self._lost()
        return False

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew a third of the lease time apart until stopped or lost."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.ttl_ms / 3000)
                return
            except TimeoutError:
                pass
            try:
                renewed = await self.renew()
            except (OSError, aioredis.RedisError) as exc:
                logger.warning("signer_lease_renewal_failed", error=str(exc))
                continue  # held() runs out on its own if Redis stays away
            if not renewed:
                logger.error("signer_lease_lost", escrow=self.escrow)
                return

    async def release(self) -> None:
        if self.held():
            await self._script(keys=[self.key], args=["release", self.owner, 0])
        self._lost()
