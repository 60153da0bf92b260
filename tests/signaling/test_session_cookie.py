"""The pages' session cookie: set on sign-in, accepted like a Bearer token, CSRF-checked when it
changes something, ended by sign-out here or everywhere (signaling/auth/cookies.py)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie

import aiohttp
import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from substrateinterface import Keypair

from signaling.auth.cookies import csrf_token
from signaling.config import AppConfig
from tests.signaling.support.accounts import sign_in
from tests.signaling.support.sockets import connect, next_of
from tests.signaling.support.webrtc_clients import whep, whip
from tests.support.configs import configured
from vilokanam.wiring import create_app


def _fresh() -> Keypair:
    return Keypair.create_from_mnemonic(Keypair.generate_mnemonic())


def _set_cookies(response: aiohttp.ClientResponse) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"vk_session={token}; vk_csrf={csrf_token(token)}"}


def _with_csrf(token: str) -> dict[str, str]:
    return {**_cookie(token), "X-CSRF-Token": csrf_token(token)}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _dev_login(client: TestClient, uri: str, **headers: str) -> aiohttp.ClientResponse:
    response = await client.post("/api/dev/login", json={"uri": uri}, headers=headers)
    assert response.status == 200, await response.text()
    return response


async def test_sign_in_sets_an_httponly_samesite_session_cookie(client: TestClient) -> None:
    response = await _dev_login(client, "//Bob")
    token = (await response.json())["token"]
    cookies = _set_cookies(response)
    session, csrf = cookies["vk_session"], cookies["vk_csrf"]
    assert session.value == token
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert session["path"] == "/"
    assert not session["secure"]  # plain http here; see the https test below
    assert int(session["max-age"]) == 7 * 24 * 3600
    # The CSRF cookie is for the pages' scripts to read: not HttpOnly, not the token.
    assert csrf.value == csrf_token(token) and token not in csrf.value
    assert not csrf["httponly"]
    assert csrf["samesite"] == "Lax"


async def test_pages_may_keep_the_token_out_of_the_body(client: TestClient) -> None:
    response = await _dev_login(client, "//Bob", **{"Vilokanam-Session": "cookie"})
    body = await response.json()
    assert "token" not in body and body["user"]["account_id"]
    token = _set_cookies(response)["vk_session"].value
    me = await client.get("/api/me", headers=_cookie(token))
    assert me.status == 200
    assert (await me.json())["id"] == body["user"]["id"]


@pytest.fixture
async def https_client(app_config: AppConfig) -> AsyncIterator[TestClient]:
    config = configured(app_config, public_url="https://vilokanam.example")
    server = TestServer(create_app(config))
    async with TestClient(server, cookie_jar=DummyCookieJar()) as test_client:
        yield test_client


async def test_the_cookies_are_secure_behind_https(https_client: TestClient) -> None:
    cookies = _set_cookies(await _dev_login(https_client, "//Bob"))
    assert cookies["vk_session"]["secure"] is True
    assert cookies["vk_csrf"]["secure"] is True


async def test_the_cookie_signs_in_a_get_and_the_session_route_says_who(
    client: TestClient,
) -> None:
    token = await sign_in(client, _fresh())
    me = await (await client.get("/api/me", headers=_bearer(token))).json()
    by_cookie = await client.get("/api/me", headers=_cookie(token))
    assert by_cookie.status == 200
    assert (await by_cookie.json())["id"] == me["id"]
    session = await (await client.get("/api/auth/session", headers=_cookie(token))).json()
    assert session["user"]["id"] == me["id"] and session["expires_at"].endswith("Z")
    signed_out = await (await client.get("/api/auth/session")).json()
    assert signed_out == {"user": None, "expires_at": None}


async def test_a_cookie_mutation_needs_the_csrf_header(client: TestClient) -> None:
    token = await sign_in(client, _fresh())
    change = {"bio": "changed by cookie"}
    refused = await client.patch("/api/me", json=change, headers=_cookie(token))
    assert refused.status == 403
    error = (await refused.json())["error"]
    assert error["code"] == "csrf_failed" and "X-CSRF-Token" in error["message"]
    wrong = {**_cookie(token), "X-CSRF-Token": csrf_token("vkt_someone-else")}
    assert (await client.patch("/api/me", json=change, headers=wrong)).status == 403
    me = await (await client.get("/api/me", headers=_cookie(token))).json()
    assert me["bio"] != change["bio"]  # nothing was stored by the refused requests

    accepted = await client.patch("/api/me", json=change, headers=_with_csrf(token))
    assert accepted.status == 200
    assert (await accepted.json())["bio"] == change["bio"]


async def test_bearer_requests_need_no_csrf_header(client: TestClient) -> None:
    token = await sign_in(client, _fresh())
    response = await client.patch("/api/me", json={"bio": "by token"}, headers=_bearer(token))
    assert response.status == 200
    # A Bearer token wins over a cookie of somebody else's.
    other = await sign_in(client, _fresh())
    both = {**_bearer(token), **_cookie(other)}
    assert (await client.patch("/api/me", json={"bio": "again"}, headers=both)).status == 200
    assert (await (await client.get("/api/me", headers=_bearer(token))).json())["bio"] == "again"


async def test_sign_out_by_cookie_ends_the_session_and_clears_the_cookies(
    client: TestClient,
) -> None:
    token = await sign_in(client, _fresh())
    assert (await client.post("/api/auth/logout", headers=_cookie(token))).status == 403
    assert (await client.get("/api/me", headers=_cookie(token))).status == 200  # still in

    response = await client.post("/api/auth/logout", headers=_with_csrf(token))
    assert response.status == 204
    cleared = _set_cookies(response)
    assert cleared["vk_session"].value == "" and cleared["vk_csrf"].value == ""
    assert (await client.get("/api/me", headers=_cookie(token))).status == 401
    assert (await client.get("/api/me", headers=_bearer(token))).status == 401
    session = await (await client.get("/api/auth/session", headers=_cookie(token))).json()
    assert session["user"] is None


async def test_sign_out_everywhere_ends_every_session_of_that_user_only(
    client: TestClient, stream: dict
) -> None:
    me, someone = _fresh(), _fresh()
    laptop, phone = await sign_in(client, me), await sign_in(client, me)
    other = await sign_in(client, someone)
    socket = await connect(client, stream["id"], _bearer(phone))

    response = await client.post("/api/auth/logout-all", headers=_with_csrf(laptop))
    assert response.status == 200
    assert await response.json() == {"sessions_ended": 2}
    for token in (laptop, phone):
        assert (await client.get("/api/me", headers=_bearer(token))).status == 401
        assert (await client.get("/api/me", headers=_cookie(token))).status == 401
    assert (await client.get("/api/me", headers=_bearer(other))).status == 200
    notice = await next_of(socket, "error")
    assert notice["code"] == "unauthorized"  # the phone's open socket was signed out too
    assert (await socket.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await socket.close()


async def test_sessions_are_kept_as_digests_only_and_never_logged(
    client: TestClient, redis, redis_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    me = _fresh()
    token = await sign_in(client, me)
    user_id = (await (await client.get("/api/me", headers=_cookie(token))).json())["id"]
    members = await redis.smembers(f"{redis_prefix}user-sessions:{user_id}")
    assert members == {hashlib.sha256(token.encode()).hexdigest().encode()}
    keys = [key async for key in redis.scan_iter(f"{redis_prefix}*")]
    assert all(token.encode() not in key for key in keys)
    assert (await client.post("/api/auth/logout", headers=_cookie(token))).status == 403
    assert (await client.post("/api/auth/logout-all", headers=_with_csrf(token))).status == 200
    logged = capsys.readouterr()
    assert "auth_signed_in" in logged.out + logged.err  # the log was captured
    assert token not in logged.out + logged.err
    assert csrf_token(token) not in logged.out + logged.err


async def test_a_socket_signs_in_by_cookie_only_from_the_servers_own_origin(
    client: TestClient, stream: dict
) -> None:
    token = await sign_in(client, _fresh())
    path = f"/ws/streams/{stream['id']}"
    own = f"http://{client.host}:{client.port}"
    for origin, signed_in in ((own, True), ("http://evil.example", False), (None, False)):
        headers = _cookie(token) | ({"Origin": origin} if origin else {})
        ws = await client.ws_connect(path, headers=headers)
        await next_of(ws, "viewers")
        await ws.send_json({"type": "auth"})
        reply = await next_of(ws, "auth", "error")
        assert (reply["type"] == "auth") is signed_in, (origin, reply)
        await ws.close()


@pytest.mark.usefixtures("loopback")
async def test_a_whep_offer_signed_by_cookie_needs_the_csrf_header(
    client: TestClient, stream: dict
) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    token = await sign_in(client, _fresh())
    refused = await client.post(f"/whep/{stream['id']}", data="v=0", headers=_cookie(token))
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "csrf_failed"
    viewer, location = await whep(client, stream["id"], _with_csrf(token))  # 201: watching
    assert (await client.delete(location)).status == 200
    await viewer.close()
    assert (await client.delete(broadcast.location)).status == 200
    await broadcast.pc.close()
