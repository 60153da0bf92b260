"""GET/PATCH /api/me with validation."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from substrateinterface import Keypair

from signaling.keys import LIVE
from tests.signaling.support.accounts import sign_in


@pytest.fixture
async def headers(client: TestClient) -> dict[str, str]:
    keypair = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    return {"Authorization": f"Bearer {await sign_in(client, keypair)}"}


async def test_profile_update_round_trips(client: TestClient, headers: dict) -> None:
    name = f"user_{headers['Authorization'][-6:].replace('-', '_')}"
    response = await client.patch(
        "/api/me",
        headers=headers,
        json={
            "username": name,
            "bio": "hi",
            "is_creator": True,
            "email": f"{name}@example.org",
            "profile_image_url": "https://img.example/a.png",
        },
    )
    assert response.status == 200, await response.text()
    me = await (await client.get("/api/me", headers=headers)).json()
    assert (me["username"], me["bio"], me["is_creator"]) == (name, "hi", True)
    assert me["email"] == f"{name}@example.org"
    assert me["created_at"].endswith("Z")


@pytest.mark.parametrize(
    "body",
    [
        {"username": "a"},
        {"username": "has space"},
        {"email": "not-an-email"},
        {"bio": "x" * 2001},
        {"profile_image_url": "javascript:alert(1)"},
        {"is_creator": None},
        {"is_creator": "maybe"},
        {"unknown": 1},
        {},
    ],
)
async def test_invalid_profile_is_refused_and_unchanged(
    client: TestClient, headers: dict, body: dict
) -> None:
    before = await (await client.get("/api/me", headers=headers)).json()
    response = await client.patch("/api/me", headers=headers, json=body)
    assert response.status == 422
    assert (await response.json())["error"]["message"]
    assert await (await client.get("/api/me", headers=headers)).json() == before


async def test_taken_username_is_a_conflict(client: TestClient, headers: dict) -> None:
    other = {"Authorization": f"Bearer {await sign_in(client, Keypair.create_from_uri('//Eve'))}"}
    name = f"taken_{headers['Authorization'][-8:].replace('-', '_')}"
    assert (await client.patch("/api/me", headers=other, json={"username": name})).status == 200
    response = await client.patch("/api/me", headers=headers, json={"username": name})
    assert response.status == 409


async def test_me_requires_a_session(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer vkt_bogus"}, {"Authorization": "Basic x"}):
        response = await client.get("/api/me", headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_health_and_metrics(client: TestClient) -> None:
    health = await client.get("/api/health")
    assert health.status == 200
    assert await health.json() == {
        "status": "ok",
        "postgres": "ok",
        "redis": "ok",
        "node_id": str(client.app[LIVE].node_id),  # which node of a cluster answered
    }
    metrics = await (await client.get("/metrics")).text()
    sample = 'vilokanam_http_request_duration_seconds_count{method="GET",route="/api/health"'
    assert sample in metrics


async def test_unknown_route_is_json_404(client: TestClient) -> None:
    response = await client.get("/api/nope")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    wrong_method = await client.delete("/api/health")
    assert wrong_method.status == 405
    assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"


async def test_nul_characters_are_refused_not_a_server_error(
    client: TestClient, headers: dict
) -> None:
    # Found by schemathesis: PostgreSQL text cannot store NUL.
    for body in ({"email": "a\u0000@b.example"}, {"bio": "x\u0000y"}):
        response = await client.patch("/api/me", headers=headers, json=body)
        assert response.status == 422
        assert "NUL" in (await response.json())["error"]["message"]


async def test_email_used_by_someone_else_is_not_revealed(
    client: TestClient, headers: dict
) -> None:
    someone = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    other = {"Authorization": f"Bearer {await sign_in(client, someone)}"}
    email = f"owner-{headers['Authorization'][-8:]}@example.org"
    assert (await client.patch("/api/me", headers=other, json={"email": email})).status == 200
    # Answered exactly like any other change: no 409, no hint that the address is in use.
    response = await client.patch("/api/me", headers=headers, json={"email": email})
    assert response.status == 200
    assert (await response.json())["email"] == email
    assert (await (await client.get("/api/me", headers=other)).json())["email"] == email
