"""The cluster registry in Redis: which nodes live, what each holds, where a stream comes from.

Keys, under the app's Redis prefix `p`:
- `{p}nodes`: sorted set, node id → expiry on Redis's clock (the heartbeat). A node whose expiry
  has passed is dead, whatever its other keys still say.
- `{p}node:{id}`: the node's card (JSON of NodeCard), rewritten with each heartbeat.
- `{p}origin:{stream_id}`: the id of the node a stream is published on (its origin).
- `{p}viewers:{stream_id}`: hash, node id → viewers of the stream connected to that node.
- `{p}session:{sha256 of token}`: the id of the node holding a WHIP/WHEP session. Session tokens
  are capabilities: only their digest is stored.
- `{p}ticket:{ticket}`: a single-use stand-in for a viewer's sign-in, carried by a redirect.

Redis's clock, not each machine's, decides expiry: nodes on several hosts agree on who is dead.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import cast

import redis.asyncio as aioredis

# A heartbeat every TTL/3; a node silent for TTL is dead.
NODE_TTL_S = 9.0
# Longest a session key outlives its node's last word (refreshed while the session lives).
SESSION_TTL_S = 24 * 3600
TICKET_TTL_S = 30

# The origin key is taken when free or held by a node whose heartbeat expired.
_CLAIM_ORIGIN = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  local expiry = redis.call('ZSCORE', KEYS[2], owner)
  local now = redis.call('TIME')
  if expiry and tonumber(expiry) > tonumber(now[1]) + tonumber(now[2]) / 1e6 then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
_TAKE_TICKET = "local v = redis.call('GET', KEYS[1]); redis.call('DEL', KEYS[1]); return v"
_CLEAR_IF_OWNED = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class NodeCard:
    """What a node announces about itself with each heartbeat."""

    node_id: str
    internal_url: str
    media_addresses: list[str] = field(default_factory=list)
    viewers: int = 0
    streams: int = 0
    relays: int = 0
    cpu: float = 0.0  # share of one core used since the last beat
    max_viewers: int = 0
    draining: bool = False
    pid: int = 0
    media_port: int = 0  # the shared UDP port of its sfu (0: none, one port per peer)

    @property
    def has_room(self) -> bool:
        return not self.draining and (self.max_viewers <= 0 or self.viewers < self.max_viewers)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob_escape(text: str) -> str:
    """`text` matched literally by a Redis SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Registry:
    """One node's view of the cluster registry."""

    def __init__(self, redis: aioredis.Redis, prefix: str, node_id: uuid.UUID | str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.node_id = str(node_id)

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def _now(self) -> float:
        seconds, micros = await self.redis.time()
        return float(seconds) + micros / 1e6

    # --- nodes -------------------------------------------------------------------------------

    async def beat(self, card: NodeCard | None = None, ttl_s: float = NODE_TTL_S) -> None:
        """Announce this node alive for the next `ttl_s` seconds (with its card, if given)."""
        expiry = await self._now() + ttl_s
        async with self.redis.pipeline(transaction=True) as pipe:
            if card is not None:
                pipe.set(self._key("node", self.node_id), json.dumps(asdict(card)))
            pipe.zadd(self._key("nodes"), {self.node_id: expiry})
            await pipe.execute()

    async def leave(self) -> None:
        """A clean stop: out of the living set at once."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self._key("nodes"), self.node_id)
            pipe.delete(self._key("node", self.node_id))
            await pipe.execute()

    async def living(self) -> list[str]:
        """Ids of the nodes whose heartbeat has not expired (dropping the expired ones)."""
        key, now = self._key("nodes"), await self._now()
        await self.redis.zremrangebyscore(key, "-inf", now)
        members = cast(list[bytes], await self.redis.zrange(key, 0, -1))
        return [member.decode() for member in members]

    async def nodes(self) -> list[NodeCard]:
        """Cards of the living nodes (a node that beat without a card is left out)."""
        ids = await self.living()
        if not ids:
            return []
        raw = await self.redis.mget([self._key("node", node_id) for node_id in ids])
        return [NodeCard(**json.loads(value)) for value in raw if value is not None]

    async def node(self, node_id: str) -> NodeCard | None:
        """The card of a living node, or None (unknown or dead)."""
        score = await self.redis.zscore(self._key("nodes"), node_id)
        if score is None or score <= await self._now():
            return None
        raw = await self.redis.get(self._key("node", node_id))
        return NodeCard(**json.loads(raw)) if raw is not None else None

    async def with_room(self) -> NodeCard | None:
        """Another living node below its viewer limit, the least loaded first."""
        others = [n for n in await self.nodes() if n.node_id != self.node_id and n.has_room]
        return min(others, key=lambda n: (n.viewers, n.cpu), default=None)

    # --- streams ---------------------------------------------------------------------------

    async def claim_origin(self, stream_id: uuid.UUID | str) -> bool:
        """Become the stream's origin unless another living node is: two publishers arriving
        on two nodes at once cannot both publish the stream."""
        keys = (self._key("origin", str(stream_id)), self._key("nodes"))
        return bool(await self.redis.eval(_CLAIM_ORIGIN, 2, *keys, self.node_id))

    async def clear_origin(self, stream_id: uuid.UUID | str) -> None:
        """Forget this node as the stream's origin (not a newer origin elsewhere)."""
        await self.redis.eval(_CLEAR_IF_OWNED, 1, self._key("origin", str(stream_id)), self.node_id)

    async def origin(self, stream_id: uuid.UUID | str) -> NodeCard | None:
        """The living node a stream is published on, if any."""
        node_id = await self.redis.get(self._key("origin", str(stream_id)))
        return await self.node(_text(node_id)) if node_id is not None else None

    async def origins(self) -> dict[str, str]:
        """Every recorded stream origin: stream id → node id (living or not; see `node`)."""
        head = self._key("origin", "")
        keys = [key async for key in self.redis.scan_iter(match=_glob_escape(head) + "*")]
        if not keys:
            return {}
        values = await self.redis.mget(keys)
        return {
            _text(key).removeprefix(head): _text(value)
            for key, value in zip(keys, values, strict=True)
            if value is not None
        }

    async def set_viewers(self, stream_id: uuid.UUID | str, count: int) -> None:
        """This node's count of connected viewers of a stream (0 removes it)."""
        key = self._key("viewers", str(stream_id))
        if count:
            await self.redis.hset(key, self.node_id, count)
        else:
            await self.redis.hdel(key, self.node_id)

    async def viewers(self, stream_id: uuid.UUID | str) -> dict[str, int]:
        """Connected viewers of a stream per living node (a dead node's count is left out)."""
        raw = await self.redis.hgetall(self._key("viewers", str(stream_id)))
        living = set(await self.living())
        counts = {_text(node): int(count) for node, count in raw.items()}
        return {node: count for node, count in counts.items() if node in living}

    # --- sessions and tickets --------------------------------------------------------------

    async def hold_session(self, token: str) -> None:
        """Record that this node holds the session of `token` (by digest)."""
        key = self._key("session", token_digest(token))
        await self.redis.set(key, self.node_id, ex=SESSION_TTL_S)

    async def drop_session(self, token: str) -> None:
        key = self._key("session", token_digest(token))
        await self.redis.eval(_CLEAR_IF_OWNED, 1, key, self.node_id)

    async def session_node(self, token: str) -> NodeCard | None:
        """The living node holding a session, if another node than this one holds it."""
        node_id = await self.redis.get(self._key("session", token_digest(token)))
        if node_id is None or _text(node_id) == self.node_id:
            return None
        return await self.node(_text(node_id))

    async def issue_ticket(self, viewer_id: uuid.UUID) -> str:
        """A single-use stand-in for the viewer's sign-in, valid TICKET_TTL_S seconds."""
        ticket = secrets.token_urlsafe(24)
        await self.redis.set(self._key("ticket", ticket), str(viewer_id), ex=TICKET_TTL_S)
        return ticket

    async def take_ticket(self, ticket: str) -> uuid.UUID | None:
        """The viewer a ticket stands for, once; None when unknown, used or expired."""
        if not ticket or len(ticket) > 64:
            return None
        raw = await self.redis.eval(_TAKE_TICKET, 1, self._key("ticket", ticket))
        return uuid.UUID(_text(raw)) if raw is not None else None
