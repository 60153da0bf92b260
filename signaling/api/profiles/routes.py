"""GET /api/users/{ref}: a profile by user id, username or SS58 address, with follow counts.
PUT/DELETE /api/me/avatar: my profile picture, re-encoded by the video pipeline and served
from /media/avatars/."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from recorder import InvalidMedia, avatar_jpeg, avatar_path, replace_file
from signaling.api.profiles import queries as profiles_db
from signaling.auth import users
from signaling.auth.sessions import require_user, session_user_id
from signaling.http.errors import ApiError
from signaling.http.validation import parse_uuid
from signaling.keys import CONFIG, PG

routes = web.RouteTableDef()

AVATAR_URL_PREFIX = "/media/avatars"
AVATAR_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
MAX_REF_CHARS = 64


@routes.get("/api/users/{ref}")
async def profile(request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    user = await profiles_db.find(request.app[PG], ref) if len(ref) <= MAX_REF_CHARS else None
    if user is None:
        raise ApiError(404, f"no user named {ref[:MAX_REF_CHARS]!r}")
    viewer = await session_user_id(request)
    counts = await profiles_db.follow_counts(request.app[PG], user["id"], viewer)
    return web.json_response(
        {
            **users.public_view(user),
            "followers": counts["followers"],
            "following": counts["following"],
            # null when signed out: the page then offers to sign in rather than to follow
            "followed_by_me": counts["followed"] if viewer else None,
        }
    )


@routes.put("/api/me/avatar")
async def put_avatar(request: web.Request) -> web.Response:
    """The body is the image itself (JPEG, PNG, WebP or GIF, within the 1 MiB body limit)."""
    user = await require_user(request)
    if request.content_type not in AVATAR_TYPES:
        raise ApiError(415, f"send the picture as one of {', '.join(AVATAR_TYPES)}")
    data = await request.read()
    try:
        jpeg = await asyncio.to_thread(avatar_jpeg, data)
    except InvalidMedia as exc:
        raise ApiError(422, f"that picture cannot be used: {exc.reason}") from None
    path = avatar_path(request.app[CONFIG].media.media_root, user["id"])
    await asyncio.to_thread(replace_file, path, jpeg)
    # A new URL per picture: caches keep the old one for as long as they like.
    url = f"{AVATAR_URL_PREFIX}/{user['id']}/avatar.jpg?v={int(time.time())}"
    row = await profiles_db.set_avatar(request.app[PG], user["id"], url)
    return web.json_response(users.private_view(row or user))


@routes.delete("/api/me/avatar")
async def delete_avatar(request: web.Request) -> web.Response:
    user = await require_user(request)
    await profiles_db.set_avatar(request.app[PG], user["id"], None)
    path = avatar_path(request.app[CONFIG].media.media_root, user["id"])
    await asyncio.to_thread(path.unlink, True)
    return web.Response(status=204)


@routes.get(AVATAR_URL_PREFIX + "/{user_id}/avatar.jpg")
async def avatar(request: web.Request) -> web.FileResponse:
    user_id = parse_uuid(request.match_info["user_id"], "user")
    path = avatar_path(request.app[CONFIG].media.media_root, user_id)
    if not path.is_file():
        raise ApiError(404, f"user {user_id} has no picture")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "image/jpeg",
            "Cache-Control": "public, max-age=86400",  # each new picture has a new ?v= URL
        },
    )
