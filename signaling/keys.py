"""Typed application keys for objects shared by handlers."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from signaling.config import AppConfig

CONFIG = web.AppKey("config", AppConfig)
PG = web.AppKey("pg", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
