"""Request body and parameter parsing with pydantic, turning mistakes into 4xx errors."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from signaling.http.errors import ApiError
from signaling.keys import CONFIG

Model = TypeVar("Model", bound=BaseModel)


class Body(BaseModel):
    """Base for request bodies: unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail on INSERT.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {str(error['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


async def read_json(request: web.Request, model: type[Model]) -> Model:
    """Parse the JSON body into `model`; 415/400/422 with a readable message otherwise."""
    if request.content_type != "application/json":
        raise ApiError(415, "expected a JSON body (Content-Type: application/json)")
    limit = request.app[CONFIG].limits.max_json_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"JSON body larger than {limit} bytes")
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"JSON body larger than {limit} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "JSON body must be an object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, describe(exc), code="invalid_field") from None


def changes_of(body: Body, not_null: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body sets; 422 when it sets none or nulls one of `not_null`."""
    changes = body.model_dump(include=body.model_fields_set)
    if not changes:
        raise ApiError(422, "nothing to change: send at least one field", "invalid_field")
    for name in not_null:
        if name in changes and changes[name] is None:
            raise ApiError(422, f"{name}: may not be null", "invalid_field")
    return changes


def query_uuid(request: web.Request, name: str) -> uuid.UUID | None:
    """An optional UUID query parameter; 400 when present but malformed."""
    value = request.query.get(name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, f"{name} must be a UUID") from None


def parse_uuid(value: str, what: str = "id") -> uuid.UUID:
    """A path parameter that must be a UUID; 404 otherwise (no such resource can exist)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, f"no {what} {value!r}") from None
