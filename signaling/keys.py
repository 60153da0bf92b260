"""Every typed application key: the objects that handlers and background contexts share.

keys.py sits below every other module of signaling, so the types of the objects it keys are
named for the type checker only (`TYPE_CHECKING`): importing the keys never imports the layers
that own those objects (docs/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from signaling.config import AppConfig

if TYPE_CHECKING:
    from signaling.cluster.registry import Registry
    from signaling.cluster.routing import NodeRouting
    from signaling.realtime.earnings_feed import EarningsFeed
    from signaling.realtime.events import StreamEvents
    from signaling.runtime.billing import BillingRuntime
    from signaling.runtime.node_liveness import CpuShare
    from signaling.webrtc.relays import Relays
    from signaling.webrtc.sessions import LiveStreams

CONFIG = web.AppKey("config", AppConfig)
PG = web.AppKey("pg", asyncpg.Pool)
REDIS = web.AppKey("redis", aioredis.Redis)
# Set by the media context the composition root hands to create_app (vilokanam/wiring.py).
LIVE: web.AppKey[LiveStreams] = web.AppKey("live")
# Set by runtime/billing.py's context.
BILLING: web.AppKey[BillingRuntime] = web.AppKey("billing")
# Set by realtime/context.py: the Redis fan-out to sockets, and the creators' earnings feed.
EVENTS: web.AppKey[StreamEvents] = web.AppKey("stream_events")
EARNINGS: web.AppKey[EarningsFeed] = web.AppKey("earnings_feed")
# Set by runtime/node_liveness.py's context: this node's view of the cluster registry.
REGISTRY: web.AppKey[Registry] = web.AppKey("registry")
# Also set there: the CPU this process used between two of its heartbeats.
CPU: web.AppKey[CpuShare] = web.AppKey("cpu_share")
# Set by runtime/routing.py's context: forwarding, commands between nodes, the view cap, drain.
ROUTING: web.AppKey[NodeRouting] = web.AppKey("routing")
# Set by webrtc/relays.py's context: the relays this node holds from origins and serves to edges.
RELAYS: web.AppKey[Relays] = web.AppKey("relays")
