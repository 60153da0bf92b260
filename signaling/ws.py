"""`/ws/streams/{id}`: one WebSocket per page for live chat, viewer count and stream status.

Protocol (JSON text frames):
- server → client on connect: {"type":"history","messages":[chat…]}, {"type":"status",…},
  {"type":"viewers","count":n}; later any of those plus {"type":"chat",…} and, for a signed-in
  viewer only, billing notices such as {"type":"cut","reason":…} / {"type":"balance",…}.
- client → server: {"type":"auth","token":<session token>} (never in the URL: URLs get logged),
  then {"type":"chat","content":"…"}. Mistakes get {"type":"error","code","message"}; the socket
  stays open. An unknown stream is closed with 4404.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import structlog
from aiohttp import WSMsgType, web
from prometheus_client import Gauge

from signaling import chat, streams_db, users
from signaling.events import CHAT_BURST, CHAT_WINDOW_S, Socket, StreamEvents
from signaling.keys import CONFIG, LIVE, PG, REDIS
from signaling.sessions import token_user_id

logger = structlog.get_logger(__name__)
routes = web.RouteTableDef()

EVENTS = web.AppKey("stream_events", StreamEvents)
OPEN_SOCKETS = Gauge("vilokanam_websocket_connections", "Open WebSocket connections")

CLOSE_UNKNOWN_STREAM = 4404
# Larger frames close the socket (1009); a chat message with its JSON fits easily.
MAX_FRAME_BYTES = 8 * 1024
HEARTBEAT_S = 30.0


async def notify_viewer(
    app: web.Application, stream_id: uuid.UUID, viewer_id: uuid.UUID, payload: dict[str, Any]
) -> None:
    """Send `payload` to one viewer's sockets on a stream, in whichever process they are open.

    Billing uses it for {"type": "cut", "reason": …} and {"type": "balance", …}.
    """
    await app[EVENTS].to_viewer(stream_id, viewer_id, payload)


async def stream_events(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the Redis fan-out, fed by LiveStreams changes (after the media context)."""
    events = StreamEvents(app[REDIS], app[CONFIG].redis_prefix)
    await events.start()
    app[EVENTS] = events
    live = app[LIVE]

    def on_change(what: str, stream_id: uuid.UUID) -> None:
        if what == "viewers":
            events.spawn(events.to_stream(stream_id, _viewers(live.viewer_count(stream_id))))
            return
        events.spawn(events.to_stream(stream_id, {"type": "status", "status": what}))
        if what == "ended":
            events.spawn(events.to_stream(stream_id, _viewers(0)))

    live.on_change(on_change)
    yield
    await events.close()


async def close_sockets(app: web.Application) -> None:
    """on_shutdown: close open sockets, or shutdown would wait for them."""
    await app[EVENTS].close_sockets()


def _viewers(count: int) -> dict[str, Any]:
    return {"type": "viewers", "count": count}


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
    return ws


async def _stream(request: web.Request) -> asyncpg.Record | None:
    try:
        stream_id = uuid.UUID(request.match_info["stream_id"])
    except ValueError:
        return None
    return await streams_db.by_id(request.app[PG], stream_id)


async def _greet(request: web.Request, socket: Socket, stream: asyncpg.Record) -> None:
    history = await chat.recent(request.app[PG], stream["id"])
    live = stream["status"] == "live"
    await socket.ws.send_json({"type": "history", "messages": history})
    await socket.ws.send_json({"type": "status", "status": stream["status"]})
    await socket.ws.send_json(_viewers(stream["viewer_count"] if live else 0))


async def _handle(
    request: web.Request, socket: Socket, message: Any
) -> dict[str, Any] | None:
    """The reply to one client frame (None when the answer is a broadcast)."""
    if message.type != WSMsgType.TEXT:
        return _error("bad_message", "send JSON text frames")
    try:
        data = json.loads(message.data)
    except ValueError:
        return _error("bad_message", "not valid JSON")
    if not isinstance(data, dict):
        return _error("bad_message", "a message must be a JSON object with a type")
    kind = data.get("type")
    if kind == "auth":
        return await _authenticate(request, socket, data.get("token"))
    if kind == "chat":
        return await _post_chat(request, socket, data.get("content"))
    return _error("bad_message", f"unknown message type {kind!r}; use auth or chat")


async def _authenticate(request: web.Request, socket: Socket, token: object) -> dict[str, Any]:
    user_id = await token_user_id(request, token if isinstance(token, str) else None)
    user = await users.by_id(request.app[PG], user_id) if user_id else None
    if user is None:
        return _error("unauthorized", "invalid or expired session token; sign in again")
    socket.user_id = user["id"]
    return {"type": "auth", "user": {"id": str(user["id"]), "account_id": user["account_id"],
                                     "username": user["username"]}}


async def _post_chat(request: web.Request, socket: Socket, content: object) -> dict | None:
    if socket.user_id is None:
        return _error("unauthorized", "sign in to chat")
    try:
        text = chat.clean(content)
    except chat.ChatRefused as exc:
        return _error("invalid_message", str(exc))
    if not socket.chat_limit.allow():
        return _error("rate_limited", f"slow down: at most {CHAT_BURST} messages every "
                                      f"{CHAT_WINDOW_S:g} seconds")
    posted = await chat.post(request.app[PG], socket.stream_id, socket.user_id, text)
    await request.app[EVENTS].to_stream(socket.stream_id, posted)
    logger.info("chat", stream_id=str(socket.stream_id), user_id=str(socket.user_id))
    return None
