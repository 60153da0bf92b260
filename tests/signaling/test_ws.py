"""The stream WebSocket: live chat, viewer count and status pushes, per-viewer notices."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from substrateinterface import Keypair

from signaling.config import AppConfig
from signaling.realtime import chat
from signaling.realtime import routes as ws_module
from signaling.realtime.context import notify_viewer
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.sockets import Socket, connect, creator_socket, next_of, token_of
from tests.signaling.support.webrtc_clients import whep, whip
from tests.support.configs import configured
from vilokanam.wiring import create_app


async def test_chat_reaches_an_anonymous_reader_and_is_stored_as_a_stream_comment(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    author = await new_user(client)
    reader = await connect(client, stream["id"])
    writer = await connect(client, stream["id"], author)
    await writer.send_json({"type": "chat", "content": "  hello, stream!  "})

    seen = await next_of(reader, "chat")
    assert seen["content"] == "hello, stream!"
    assert seen["stream_id"] == stream["id"]
    me = await (await client.get("/api/me", headers=author)).json()
    assert seen["author"]["account_id"] == me["account_id"]
    assert (await next_of(writer, "chat"))["id"] == seen["id"]  # the sender sees it too
    row = await db.fetchrow("SELECT * FROM comments WHERE id = $1::uuid", seen["id"])
    assert str(row["stream_id"]) == stream["id"] and row["video_id"] is None
    assert str(row["author_id"]) == me["id"] and row["content"] == "hello, stream!"


async def test_a_new_socket_gets_the_last_50_messages_oldest_first_and_the_status(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    author = await (await client.get("/api/me", headers=await new_user(client))).json()
    for n in range(52):
        await chat.post(db, uuid.UUID(stream["id"]), uuid.UUID(author["id"]), f"message {n}")
    ws = await client.ws_connect(f"/ws/streams/{stream['id']}")
    history = await next_of(ws, "history")
    assert [m["content"] for m in history["messages"]] == [f"message {n}" for n in range(2, 52)]
    assert (await next_of(ws, "status"))["status"] == "pending"
    assert (await next_of(ws, "viewers"))["count"] == 0


async def test_posting_needs_a_valid_session_and_errors_keep_the_socket_open(
    client: TestClient, stream: dict
) -> None:
    ws = await connect(client, stream["id"])
    await ws.send_json({"type": "chat", "content": "let me in"})
    assert (await next_of(ws, "error"))["code"] == "unauthorized"
    await ws.send_str("{not json")
    assert (await next_of(ws, "error"))["code"] == "bad_message"
    await ws.send_json(["chat"])
    assert (await next_of(ws, "error"))["code"] == "bad_message"
    await ws.send_json({"type": "dance"})
    assert "unknown message type" in (await next_of(ws, "error"))["message"]
    await ws.send_json({"type": "auth", "token": "vkt_forged"})
    assert (await next_of(ws, "error"))["code"] == "unauthorized"

    await ws.send_json({"type": "auth", "token": token_of(await new_user(client))})
    await next_of(ws, "auth")
    await ws.send_json({"type": "chat", "content": "now it works"})
    assert (await next_of(ws, "chat"))["content"] == "now it works"
    assert not ws.closed


async def test_empty_and_too_long_messages_are_refused_and_500_characters_pass(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    ws = await connect(client, stream["id"], await new_user(client))
    for content in ("   ", "", "x" * 501, 42, "nul\u0000byte"):
        await ws.send_json({"type": "chat", "content": content})
        assert (await next_of(ws, "error"))["code"] == "invalid_message"
    await ws.send_json({"type": "chat", "content": "y" * 500})
    assert (await next_of(ws, "chat"))["content"] == "y" * 500
    assert (
        await db.fetchval("SELECT count(*) FROM comments WHERE stream_id = $1::uuid", stream["id"])
        == 1
    )


async def test_chat_is_rate_limited_per_user_across_sockets_and_processes(
    client: TestClient, app_config: AppConfig, stream: dict, db: asyncpg.Pool
) -> None:
    user = await new_user(client)
    async with TestClient(TestServer(create_app(app_config))) as other_process:
        sockets = [
            await connect(client, stream["id"], user),
            await connect(other_process, stream["id"], user),
        ]
        replies = []
        for n in range(6):  # alternating sockets: a second socket buys no extra messages
            await sockets[n % 2].send_json({"type": "chat", "content": f"spam {n}"})
            while (reply := await next_of(sockets[n % 2], "chat", "error")).get(
                "content", f"spam {n}"
            ) != f"spam {n}":
                pass  # the other socket's earlier messages, broadcast to this one too
            replies.append(reply)
        assert [r["type"] for r in replies] == ["chat"] * 5 + ["error"]
        refused = replies[-1]
        assert refused["code"] == "rate_limited"
        assert "5 messages every 5 seconds" in refused["message"]
        assert not sockets[1].closed
        assert (
            await db.fetchval(
                "SELECT count(*) FROM comments WHERE stream_id = $1::uuid", stream["id"]
            )
            == 5
        )


@pytest.mark.parametrize(
    "stream_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown", "not-a-uuid"]
)
async def test_an_unknown_stream_closes_the_socket_with_4404(
    client: TestClient, stream_id: str
) -> None:
    ws = await client.ws_connect(f"/ws/streams/{stream_id}")
    message = await ws.receive()
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4404


@pytest.mark.usefixtures("loopback")
async def test_status_and_viewer_count_are_pushed_as_whip_and_whep_come_and_go(
    client: TestClient, stream: dict
) -> None:
    ws = await connect(client, stream["id"])
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    assert (await next_of(ws, "status"))["status"] == "live"
    viewer, location = await whep(client, stream["id"], await new_user(client))
    assert (await next_of(ws, "viewers"))["count"] == 1
    late = await client.ws_connect(f"/ws/streams/{stream['id']}")
    assert (await next_of(late, "status"))["status"] == "live"
    assert (await next_of(late, "viewers"))["count"] == 1

    assert (await client.delete(location)).status == 200
    assert (await next_of(ws, "viewers"))["count"] == 0
    assert (await client.delete(broadcast.location)).status == 200
    assert (await next_of(ws, "status"))["status"] == "ended"
    await viewer.close()
    await broadcast.pc.close()


async def test_notify_viewer_reaches_only_that_viewers_sockets(
    client: TestClient, stream: dict
) -> None:
    alice, bob = await new_user(client), await new_user(client)
    alice_id = (await (await client.get("/api/me", headers=alice)).json())["id"]
    alice_ws = await connect(client, stream["id"], alice)
    bob_ws = await connect(client, stream["id"], bob)
    anonymous = await connect(client, stream["id"])

    cut = {"type": "cut", "reason": "balance exhausted"}
    await notify_viewer(client.server.app, uuid.UUID(stream["id"]), uuid.UUID(alice_id), cut)
    assert await next_of(alice_ws, "cut") == cut
    # A chat sent afterwards is the next thing the others see: no cut came before it.
    await alice_ws.send_json({"type": "chat", "content": "bye"})
    for other in (bob_ws, anonymous):
        assert (await other.receive_json())["type"] == "chat"


async def test_chat_reaches_sockets_of_another_process_through_redis(
    client: TestClient, app_config: AppConfig, stream: dict
) -> None:
    async with TestClient(TestServer(create_app(app_config))) as other_process:
        far = await connect(other_process, stream["id"])
        near = await connect(client, stream["id"], await new_user(client))
        await near.send_json({"type": "chat", "content": "across processes"})
        assert (await next_of(far, "chat"))["content"] == "across processes"


async def gauge(client: TestClient) -> float:
    """The open WebSocket connections /metrics reports."""
    text = await (await client.get("/metrics")).text()
    line = next(x for x in text.splitlines() if x.startswith("vilokanam_websocket_connections"))
    return float(line.split()[-1])


async def test_open_sockets_gauge_follows_connections(
    client: TestClient, stream: dict, creator: dict
) -> None:
    before = await gauge(client)
    sockets = [await connect(client, stream["id"]) for _ in range(2)]
    sockets.append(await creator_socket(client, creator))
    assert await gauge(client) == before + 3
    for ws in sockets:
        await ws.close()
    await asyncio.sleep(0.1)
    assert await gauge(client) == before


async def test_dev_login_signs_in_as_a_dev_account_through_nonce_and_verify(
    client: TestClient,
) -> None:
    response = await client.post("/api/dev/login", json={"uri": "//Bob"})
    assert response.status == 200, await response.text()
    session = await response.json()
    bob = Keypair.create_from_uri("//Bob", ss58_format=2)
    assert session["user"]["account_id"] == bob.ss58_address
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert (await me.json())["account_id"] == bob.ss58_address
    accounts = await (await client.get("/api/dev/accounts")).json()
    assert [a["uri"] for a in accounts["items"]][:2] == ["//Alice", "//Bob"]
    refused = await client.post("/api/dev/login", json={"uri": "//Mallory"})
    assert refused.status == 422


@pytest.fixture
async def production_client(app_config: AppConfig, redis: object) -> AsyncIterator[TestClient]:
    config = dataclasses.replace(app_config, dev_mode=False)
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


async def test_dev_endpoints_are_not_routed_outside_dev_mode(
    production_client: TestClient,
) -> None:
    assert (await production_client.post("/api/dev/login", json={"uri": "//Bob"})).status == 404
    assert (await production_client.get("/api/dev/accounts")).status == 404
    health = await production_client.get("/api/health")
    assert health.status == 200  # the app itself is up and serving


# --- /ws/creator: the dashboard's live earnings --------------------------------------------


async def refused(ws: Socket) -> tuple[dict, int | None]:
    """The error a refused socket got, and its close code."""
    error = await next_of(ws, "error")
    assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.CLOSE
    return error, ws.close_code


@pytest.mark.parametrize(
    "first",
    [
        {"type": "chat", "content": "no auth first"},
        {"type": "auth"},
        {"type": "auth", "token": "vkt_forged"},
        "not json",
    ],
)
async def test_creator_socket_without_a_valid_token_is_closed_with_4401(
    client: TestClient, first: dict | str
) -> None:
    ws = await client.ws_connect("/ws/creator")
    await (ws.send_json(first) if isinstance(first, dict) else ws.send_str(first))
    error, code = await refused(ws)
    assert (error["code"], code) == ("unauthorized", 4401)


async def test_creator_socket_that_never_signs_in_is_closed_with_4401(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_module, "AUTH_TIMEOUT_S", 0.3)
    ws = await client.ws_connect("/ws/creator")
    error, code = await refused(ws)
    assert (error["code"], code) == ("unauthorized", 4401)
    assert "auth" in error["message"]


async def test_creator_socket_of_a_viewer_who_is_not_a_creator_is_closed_with_4403(
    client: TestClient,
) -> None:
    ws = await client.ws_connect("/ws/creator")
    await ws.send_json({"type": "auth", "token": token_of(await new_user(client))})
    error, code = await refused(ws)
    assert (error["code"], code) == ("forbidden", 4403)


async def test_a_creator_socket_is_greeted_with_earnings_and_refuses_chatter(
    client: TestClient, creator: dict
) -> None:
    ws = await creator_socket(client, creator)
    greeting = await next_of(ws, "earnings")
    assert (greeting["streams"], greeting["earnings"]["total"]) == ([], "0")
    assert greeting["seconds_this_second"] is None  # no earlier sample: unknown, not zero
    await ws.send_json({"type": "chat", "content": "hello?"})
    assert (await next_of(ws, "error"))["code"] == "bad_message"
    assert not ws.closed


async def test_creator_sockets_count_in_the_gauge_and_are_closed_on_shutdown(
    app_config: AppConfig, redis: object
) -> None:
    server = TestServer(create_app(app_config))
    async with TestClient(server) as client:
        creator = await new_user(client, creator=True)
        stream = await new_stream(client, creator)
        before = await gauge(client)
        dashboard = await creator_socket(client, creator)
        watching = await connect(client, stream["id"])
        assert await gauge(client) == before + 2
        await server.close()  # the app shuts down under open sockets
        for ws in (dashboard, watching):
            async with asyncio.timeout(10):
                while (message := await ws.receive()).type != aiohttp.WSMsgType.CLOSE:
                    pass
            # The server's close frame; the transport may be gone before the client answers it.
            assert (message.data, message.extra) == (1001, "server shutting down")


async def test_a_user_holds_at_most_the_configured_sockets_across_processes(
    app_config: AppConfig, redis, creator: dict
) -> None:
    config = configured(app_config, websockets_per_user=2)
    async with (
        TestClient(TestServer(create_app(config))) as one,
        TestClient(TestServer(create_app(config))) as two,
    ):
        stream = await new_stream(one, creator)
        first = await connect(one, stream["id"], creator)
        await creator_socket(two, creator)  # a dashboard counts too
        third = await one.ws_connect(f"/ws/streams/{stream['id']}")
        await third.send_json({"type": "auth", "token": token_of(creator)})
        error, code = await refused(third)
        assert error["code"] == "too_many_sockets" and "at most 2" in error["message"]
        assert code == ws_module.CLOSE_TOO_MANY_SOCKETS
        dashboard = await two.ws_connect("/ws/creator")
        await dashboard.send_json({"type": "auth", "token": token_of(creator)})
        assert (await refused(dashboard))[1] == ws_module.CLOSE_TOO_MANY_SOCKETS
        # Another account is not affected, and closing a socket frees its place.
        await connect(one, stream["id"], await new_user(one))
        await first.close()
        for _ in range(100):
            again = await one.ws_connect(f"/ws/streams/{stream['id']}")
            await again.send_json({"type": "auth", "token": token_of(creator)})
            if (await next_of(again, "auth", "error"))["type"] == "auth":
                break
            await asyncio.sleep(0.05)  # the server releases the slot just after the close
        else:
            pytest.fail("a closed socket's place was never released")


async def test_signing_out_closes_that_sessions_sockets_in_every_process(
    client: TestClient, app_config: AppConfig, stream: dict, creator: dict
) -> None:
    async with TestClient(TestServer(create_app(app_config))) as other_process:
        page = await connect(client, stream["id"], creator)
        dashboard = await creator_socket(other_process, creator)
        other_session = await connect(client, stream["id"], await new_user(client))
        assert (await client.post("/api/auth/logout", headers=creator)).status == 204
        for ws in (page, dashboard):
            error, code = await refused(ws)
            assert (error["code"], code) == ("unauthorized", 4401)
            assert "signed out" in error["message"]
        await other_session.send_json({"type": "chat", "content": "still here"})
        assert (await next_of(other_session, "chat"))["content"] == "still here"
