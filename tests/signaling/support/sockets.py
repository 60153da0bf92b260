"""Clients of the app's WebSockets: a stream's socket and a creator's dashboard socket."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp.test_utils import TestClient

Socket = aiohttp.ClientWebSocketResponse


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def next_of(ws: Socket, *kinds: str, within: float = 10.0) -> dict:
    """The next message of one of these types, skipping others."""
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive_json()
            if message["type"] in kinds:
                return message


async def connect(client: TestClient, stream_id: str, headers: dict | None = None) -> Socket:
    """A socket past its greeting (history, status, viewers); signed in when headers are given."""
    ws = await client.ws_connect(f"/ws/streams/{stream_id}")
    await next_of(ws, "viewers")
    if headers is not None:
        await ws.send_json({"type": "auth", "token": token_of(headers)})
        assert (await next_of(ws, "auth"))["user"]["id"]
    return ws


async def creator_socket(client: TestClient, headers: dict[str, str]) -> Socket:
    """A creator's dashboard socket, signed in with its first message."""
    ws = await client.ws_connect("/ws/creator")
    await ws.send_json({"type": "auth", "token": token_of(headers)})
    assert (await next_of(ws, "auth"))["user"]["id"]
    return ws
