"""Reports: any signed-in user reports a video, comment, user or stream; moderators review them.

A report goes from 'pending' to one final status (reviewed, action_taken, dismissed) exactly
once, recording who reviewed it and when. A reporter has at most one pending report per target.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import asyncpg
import structlog
from aiohttp import web

from signaling.api.catalog import queries as catalog_db
from signaling.api.comments import queries as comments_db
from signaling.api.moderation import queries as moderation_db
from signaling.api.moderation.models import FinalStatus, ReportCreate, ReportReview, TargetType
from signaling.api.streams import queries as streams_db
from signaling.auth import users
from signaling.auth.roles import require_role
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.json import rfc3339_or_none
from signaling.http.pagination import page_body, page_params
from signaling.http.validation import parse_uuid, read_json
from signaling.keys import PG

logger = structlog.get_logger(__name__)

routes = web.RouteTableDef()

STATUSES = ("pending", *get_args(FinalStatus))
TARGET_TYPES = get_args(TargetType)

# How to find each kind of target: any lookup returning a row or None.
_LOOKUPS: dict[str, Callable[[asyncpg.Pool, uuid.UUID], Awaitable[Any]]] = {
    "video": catalog_db.video,
    "comment": comments_db.comment,
    "user": users.by_id,
    "stream": streams_db.by_id,
}


def report_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "target_type": row["target_type"],
        "target_id": str(row["target_id"]),
        "reason": row["reason"],
        "description": row["description"],
        "status": row["status"],
        "reporter": users.brief_view(row, "reporter_"),
        "reviewed_by": str(row["reviewed_by"]) if row["reviewed_by"] else None,
        "reviewed_at": rfc3339_or_none(row["reviewed_at"]),
        "created_at": rfc3339_or_none(row["created_at"]),
    }


def _choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}")
    return value


@routes.post("/api/reports")
async def create_report(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await read_json(request, ReportCreate)
    db = request.app[PG]
    if await _LOOKUPS[body.target_type](db, body.target_id) is None:
        raise ApiError(422, f"target_id: no {body.target_type} {body.target_id}", "invalid_field")
    try:
        row = await moderation_db.create(
            db, user["id"], body.target_type, body.target_id, body.reason, body.description
        )
    except asyncpg.UniqueViolationError:
        raise ApiError(409, "you reported this already; a moderator will review it") from None
    logger.info("moderation_report_filed", report_id=str(row["id"]), target_type=body.target_type)
    return web.json_response(report_view(row), status=201)


@routes.get("/api/moderation/reports")
async def list_reports(request: web.Request) -> web.Response:
    await require_role(request, "moderator")
    status = _choice(request, "status", STATUSES)
    target_type = _choice(request, "target_type", TARGET_TYPES)
    after, limit = page_params(request)
    rows = await moderation_db.queue(
        request.app[PG], status=status, target_type=target_type, after=after, limit=limit
    )
    return web.json_response(page_body([report_view(r) for r in rows], rows, limit))


@routes.patch("/api/moderation/reports/{report_id}")
async def review_report(request: web.Request) -> web.Response:
    moderator = await require_role(request, "moderator")
    report_id = parse_uuid(request.match_info["report_id"], "report")
    body = await read_json(request, ReportReview)
    db = request.app[PG]
    row = await moderation_db.review(db, report_id, body.status, moderator["id"])
    if row is None:
        status = await moderation_db.status_of(db, report_id)
        if status is None:
            raise ApiError(404, f"no report {report_id}")
        raise ApiError(409, f"this report was already {status}; only pending reports change")
    logger.info(
        "moderation_report_reviewed",
        report_id=str(report_id),
        status=body.status,
        moderator_id=str(moderator["id"]),
    )
    return web.json_response(report_view(row))
