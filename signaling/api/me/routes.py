"""The signed-in user's own profile: GET and PATCH /api/me."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from pydantic import Field, HttpUrl, field_validator

from signaling.auth import users
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.validation import Body, changes_of, read_json
from signaling.keys import PG

routes = web.RouteTableDef()


class ProfileUpdate(Body):
    username: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{3,50}$")
    email: str | None = Field(
        default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )
    bio: str | None = Field(default=None, max_length=2000)
    profile_image_url: HttpUrl | None = None
    is_creator: bool | None = None

    @field_validator("is_creator")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("must be true or false")
        return value


@routes.get("/api/me")
async def get_me(request: web.Request) -> web.Response:
    return web.json_response(users.private_view(await require_user(request)))


@routes.patch("/api/me")
async def patch_me(request: web.Request) -> web.Response:
    user = await require_user(request)
    update = await read_json(request, ProfileUpdate)
    changes = {
        name: (str(value) if isinstance(value, HttpUrl) else value)
        for name, value in changes_of(update).items()
    }
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(changes, start=2))
    try:
        row = await request.app[PG].fetchrow(
            f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {users.COLUMNS}",  # noqa: S608
            user["id"],
            *changes.values(),
        )
    except asyncpg.UniqueViolationError:
        # Only usernames are unique (they are public); emails are not, so nothing here tells
        # whether someone else uses an address (migration 0090).
        raise ApiError(409, "that username is taken", "taken") from None
    return web.json_response(users.private_view(row))
