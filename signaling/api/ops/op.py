"""The shape of one documented operation, shared by the tables of operations.py,
money_operations.py and content_operations.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from signaling.api.ops.schemas import OBJECT, Schema, page_of

Auth = Literal["session", "optional", "stream_key"] | None

QUERY: dict[str, Schema] = {
    "cursor": {"type": "string"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "status": {"type": "string"},
    "category": {"type": "string", "format": "uuid"},
    "creator": {"type": "string", "format": "uuid"},
    "sort": {"enum": ["newest", "most_viewed"]},
    "range": {"enum": ["1h", "24h", "7d", "30d"]},
    "stream_id": {"type": "string", "format": "uuid"},
    "parent_id": {"type": "string", "format": "uuid"},
    "target_type": {"enum": ["video", "comment", "user", "stream"]},
    "price": {"type": "string", "pattern": "^[0-9]{1,40}$"},
    "amount": {"type": "string", "pattern": "^[1-9][0-9]{0,37}$"},
    "to": {"type": "string", "maxLength": 64},
    "q": {"type": "string", "maxLength": 200},
}
PAGED = ("cursor", "limit")


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    ok: tuple[int, ...] = (200,)
    schema: Schema = field(default_factory=lambda: OBJECT)
    body: type[BaseModel] | None = None
    content: str | None = None  # a non-JSON request body's media type
    produces: str = "application/json"
    auth: Auth = None
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    unavailable: bool = False  # may answer 503 when the server has no chain


def paged(summary: str, tag: str, item: Schema = OBJECT, *query: str, auth: Auth = None) -> Op:
    return Op(summary, tag, schema=page_of(item), query=(*PAGED, *query), auth=auth)


SDP = "application/sdp"
TRICKLE = "application/trickle-ice-sdpfrag"
NO_BODY: Schema = {}
