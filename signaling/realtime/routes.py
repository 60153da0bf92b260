"""The WebSockets: `/ws/streams/{id}` (chat, viewers, status) and `/ws/creator` (live earnings).

`/ws/streams/{id}`: one WebSocket per page for live chat, viewer count and stream status.

Protocol (JSON text frames):
- server → client on connect: {"type":"history","messages":[chat…]}, {"type":"status",…},
  {"type":"viewers","count":n}; later any of those plus {"type":"chat",…} and, for a signed-in
  viewer only, billing notices such as {"type":"cut","reason":…} / {"type":"balance",…}, and
  {"type":"reconnect","reason":"node_draining"} when the node serving its media is stopping
  (start a new WHEP session at the public URL; signaling/runtime/drain.py).
- client → server: {"type":"auth","token":<session token>} (never in the URL: URLs get logged),
  or {"type":"auth"} to sign in with the session cookie the socket was opened with (only from
  this server's own Origin: signaling/auth/cookies.py), then {"type":"chat","content":"…"}.
  Mistakes get {"type":"error","code","message"}; the socket stays open. An unknown stream is
  closed with 4404.

Signing out (POST /api/auth/logout, or /api/auth/logout-all for every session of the user)
closes every socket signed in with an ended session: an error
frame, then close 4401.

`/ws/creator`: the creator dashboard's live earnings (signaling/realtime/earnings_feed.py).
- client → server, first and only: {"type":"auth","token":<session token>} or, by cookie,
  {"type":"auth"}. Anything else, a bad
  token or no message within AUTH_TIMEOUT_S gets an error and close 4401; a user who is not a
  creator gets an error and close 4403.
- server → client: {"type":"auth","user"}, then {"type":"earnings", at, at_ms, earnings:{total,…},
  streams:[{id,title,viewers,price_per_second,ticks}], interval_ms, seconds_this_second,
  earned_this_second} at once, and every second while any of the creator's streams is live.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from aiohttp import WSMsgType, web
from prometheus_client import Gauge

from signaling.auth import users
from signaling.auth.cookies import websocket_token
from signaling.auth.sessions import token_user_id
from signaling.auth.tokens import digest
from signaling.http import rate_limit
from signaling.keys import CONFIG, EARNINGS, EVENTS, PG
from signaling.realtime import chat
from signaling.realtime.context import viewers_message
from signaling.realtime.earnings_feed import CreatorSocket
from signaling.realtime.events import Socket

logger = structlog.get_logger(__name__)
routes = web.RouteTableDef()

OPEN_SOCKETS = Gauge("vilokanam_websocket_connections", "Open WebSocket connections")

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_STREAM = 4404
CLOSE_TOO_MANY_SOCKETS = 4429
# A socket's place in its user's cap lapses after this long, in case its process was killed.
SOCKET_SLOT_MAX_AGE_S = 24 * 3600
# A dashboard socket that has not signed in by then is closed: it would only hold a slot.
AUTH_TIMEOUT_S = 10.0
# Larger frames close the socket (1009); a chat message with its JSON fits easily.
MAX_FRAME_BYTES = 8 * 1024
HEARTBEAT_S = 30.0


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


@routes.get("/ws/streams/{stream_id}")
async def stream_socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    stream = await _stream(request)
    if stream is None:
        await ws.close(code=CLOSE_UNKNOWN_STREAM, message=b"no such stream")
        return ws
    socket = Socket(ws, stream["id"])
    events = request.app[EVENTS]
    events.join(socket)
    with OPEN_SOCKETS.track_inprogress():
        try:
            await _greet(request, socket, stream)
            async for message in ws:
                reply = await _handle(request, socket, message)
                if reply is not None:
                    await ws.send_json(reply)
        finally:
            events.leave(socket)
            events.forget_session(ws)
            await _release_slot(request, socket.user_id, socket.slot)
    return ws


async def _stream(request: web.Request) -> asyncpg.Record | None:
    try:
        stream_id = uuid.UUID(request.match_info["stream_id"])
    except ValueError:
        return None
    return await chat.stream_of(request.app[PG], stream_id)


async def _greet(request: web.Request, socket: Socket, stream: asyncpg.Record) -> None:
    messages = await chat.recent(request.app[PG], stream["id"])
    tips = await chat.recent_tips(request.app[PG], stream["id"])
    history = sorted(messages + tips, key=_moment)[-chat.HISTORY :]
    live = stream["status"] == "live"
    await socket.ws.send_json({"type": "history", "messages": history})
    await socket.ws.send_json({"type": "status", "status": stream["status"]})
    await socket.ws.send_json(viewers_message(stream["viewer_count"] if live else 0))


def _moment(message: dict[str, Any]) -> datetime:
    """When a chat message or tip was sent (their RFC 3339 strings do not sort as text)."""
    return datetime.fromisoformat(message["created_at"].replace("Z", "+00:00"))


async def _handle(request: web.Request, socket: Socket, message: Any) -> dict[str, Any] | None:
    """The reply to one client frame (None when the answer is a broadcast)."""
    try:
        data = _decode(message)
    except BadMessage as exc:
        return _error("bad_message", str(exc))
    kind = data.get("type")
    if kind == "auth":
        return await _authenticate(request, socket, data.get("token"))
    if kind == "chat":
        return await _post_chat(request, socket, data.get("content"))
    return _error("bad_message", f"unknown message type {kind!r}; use auth or chat")


class BadMessage(ValueError):
    """A client frame that is not a JSON object; the text says what to send instead."""


def _decode(message: Any) -> dict[str, Any]:
    if message.type != WSMsgType.TEXT:
        raise BadMessage("send JSON text frames")
    try:
        data = json.loads(message.data)
    except ValueError:
        raise BadMessage("not valid JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("a message must be a JSON object with a type")
    return data


async def _user_of(request: web.Request, token: str | None) -> asyncpg.Record | None:
    user_id = await token_user_id(request, token)
    return await users.by_id(request.app[PG], user_id) if user_id else None


def _auth_reply(user: asyncpg.Record) -> dict[str, Any]:
    return {
        "type": "auth",
        "user": {
            "id": str(user["id"]),
            "account_id": user["account_id"],
            "username": user["username"],
        },
    }


_BAD_TOKEN = _error(
    "unauthorized",
    "invalid or expired session token (a session cookie counts only from this server's pages); "
    "sign in again",
)


async def _authenticate(
    request: web.Request, socket: Socket, offered: object
) -> dict[str, Any] | None:
    token = websocket_token(request, offered)
    user = await _user_of(request, token)
    if user is None or token is None:
        return _BAD_TOKEN
    if user["id"] != socket.user_id:
        if not await _take_slot(request, user["id"], socket.slot):
            await _refuse(socket.ws, CLOSE_TOO_MANY_SOCKETS, _too_many_sockets(request))
            return None
        await _release_slot(request, socket.user_id, socket.slot)
        socket.user_id = user["id"]
    request.app[EVENTS].watch_session(socket.ws, digest(token))  # token: a str, it was valid
    return _auth_reply(user)


async def _take_slot(request: web.Request, user_id: uuid.UUID, slot: str) -> bool:
    """One of the user's WEBSOCKETS_PER_USER open sockets, across all processes."""
    return await rate_limit.take_slot(
        request.app,
        "ws",
        str(user_id),
        slot,
        request.app[CONFIG].limits.websockets_per_user,
        SOCKET_SLOT_MAX_AGE_S,
    )


async def _release_slot(request: web.Request, user_id: uuid.UUID | None, slot: str) -> None:
    if user_id is not None:
        await rate_limit.release_slot(request.app, "ws", str(user_id), slot)


def _too_many_sockets(request: web.Request) -> dict[str, Any]:
    cap = request.app[CONFIG].limits.websockets_per_user
    return _error("too_many_sockets", f"at most {cap} open sockets per account; close one")


async def _post_chat(
    request: web.Request, socket: Socket, content: object
) -> dict[str, Any] | None:
    if socket.user_id is None:
        return _error("unauthorized", "sign in to chat")
    try:
        text = chat.clean(content)
    except chat.ChatRefused as exc:
        return _error("invalid_message", str(exc))
    config = request.app[CONFIG]
    # Per user, not per socket: more sockets or processes give no more messages.
    if (
        await rate_limit.retry_after(
            request.app,
            "chat",
            str(socket.user_id),
            config.limits.chat_burst,
            config.limits.chat_window_s,
        )
        is not None
    ):
        return _error(
            "rate_limited",
            f"slow down: at most {config.limits.chat_burst} messages "
            f"every {config.limits.chat_window_s} seconds",
        )
    posted = await chat.post(request.app[PG], socket.stream_id, socket.user_id, text)
    await request.app[EVENTS].to_stream(socket.stream_id, posted)
    logger.info("chat_message_sent", stream_id=str(socket.stream_id), user_id=str(socket.user_id))
    return None


# --- /ws/creator ---------------------------------------------------------------------------


@routes.get("/ws/creator")
async def creator_socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    with OPEN_SOCKETS.track_inprogress():
        slot = uuid.uuid4().hex
        creator = await _signed_in_creator(request, ws, slot)
        if creator is None:
            return ws
        socket = CreatorSocket(ws, creator["id"])
        feed = request.app[EARNINGS]
        try:
            await feed.join(socket)
            async for _message in ws:
                await ws.send_json(_error("bad_message", "this socket only sends earnings"))
        finally:
            feed.leave(socket)
            request.app[EVENTS].forget_session(ws)
            await _release_slot(request, creator["id"], slot)
    return ws


async def _signed_in_creator(
    request: web.Request, ws: web.WebSocketResponse, slot: str
) -> asyncpg.Record | None:
    """The creator named by the socket's first message, holding `slot` in their socket cap,
    or None once the socket is refused."""
    try:
        message = await ws.receive(timeout=AUTH_TIMEOUT_S)
    except TimeoutError:
        await _refuse(
            ws, CLOSE_UNAUTHORIZED, _error("unauthorized", 'send {"type":"auth","token":…} first')
        )
        return None
    if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return None
    try:
        data = _decode(message)
    except BadMessage:
        data = {}
    if data.get("type") != "auth":
        await _refuse(
            ws,
            CLOSE_UNAUTHORIZED,
            _error("unauthorized", 'the first message must be {"type":"auth","token":…}'),
        )
        return None
    token = websocket_token(request, data.get("token"))
    user = await _user_of(request, token)
    if user is None or token is None:
        await _refuse(ws, CLOSE_UNAUTHORIZED, _BAD_TOKEN)
        return None
    if not user["is_creator"]:
        await _refuse(
            ws,
            CLOSE_FORBIDDEN,
            _error("forbidden", "live earnings are for creators; become one with PATCH /api/me"),
        )
        return None
    if not await _take_slot(request, user["id"], slot):
        await _refuse(ws, CLOSE_TOO_MANY_SOCKETS, _too_many_sockets(request))
        return None
    request.app[EVENTS].watch_session(ws, digest(token))
    await ws.send_json(_auth_reply(user))
    return user


async def _refuse(ws: web.WebSocketResponse, code: int, error: dict[str, Any]) -> None:
    with contextlib.suppress(ConnectionError):  # the client may be gone already
        await ws.send_json(error)
    await ws.close(code=code, message=error["code"].encode())
