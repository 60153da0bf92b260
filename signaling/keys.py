"""Typed application keys for objects shared by handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from signaling.config import AppConfig

if TYPE_CHECKING:
    from signaling.runtime.billing import BillingRuntime
    from signaling.webrtc.sessions import LiveStreams

CONFIG = web.AppKey("config", AppConfig)
PG = web.AppKey("pg", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
LIVE: web.AppKey[LiveStreams] = web.AppKey("live")
BILLING: web.AppKey[BillingRuntime] = web.AppKey("billing")
