"""Streams API: creation with a one-time key, listing, edits, rotation, deletion rules."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from signaling.auth.tokens import digest
from tests.signaling.support.accounts import new_stream, new_user


async def test_create_returns_key_once_and_stores_only_its_hash(
    client: TestClient, creator: dict, db: asyncpg.Pool
) -> None:
    stream = await new_stream(client, creator, price="1000000000")
    assert stream["status"] == "pending"
    assert stream["price_per_second"] == "1000000000"
    key = stream["stream_key"]
    assert key.startswith("vks_") and len(key) > 40
    stored = await db.fetchval(
        "SELECT stream_key_hash FROM streams WHERE id = $1::uuid", stream["id"]
    )
    assert stored == digest(key)
    fetched = await (await client.get(f"/api/streams/{stream['id']}")).json()
    assert "stream_key" not in fetched and fetched["viewer_count"] == 0


async def test_rotating_the_key_invalidates_the_old_one(
    client: TestClient, creator: dict, db: asyncpg.Pool
) -> None:
    stream = await new_stream(client, creator)
    rotated = await client.post(f"/api/streams/{stream['id']}/key", headers=creator)
    assert rotated.status == 200
    new_key = (await rotated.json())["stream_key"]
    assert new_key != stream["stream_key"]
    stored = await db.fetchval(
        "SELECT stream_key_hash FROM streams WHERE id = $1::uuid", stream["id"]
    )
    assert stored == digest(new_key)


async def test_only_creators_create_and_only_owners_edit(client: TestClient, creator: dict) -> None:
    viewer = await new_user(client)
    refused = await client.post(
        "/api/streams", headers=viewer, json={"title": "x", "price_per_second": "0"}
    )
    assert refused.status == 403
    anonymous = await client.post("/api/streams", json={"title": "x", "price_per_second": "0"})
    assert anonymous.status == 401
    stream = await new_stream(client, creator)
    other = await new_user(client, creator=True)
    for method, path, body in (
        ("PATCH", f"/api/streams/{stream['id']}", {"title": "mine now"}),
        ("POST", f"/api/streams/{stream['id']}/key", None),
        ("DELETE", f"/api/streams/{stream['id']}", None),
    ):
        response = await client.request(method, path, headers=other, json=body)
        assert response.status == 403, (method, path)
    unchanged = await (await client.get(f"/api/streams/{stream['id']}")).json()
    assert unchanged["title"] == "Test stream"


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "price_per_second": "0"},
        {"title": "t", "price_per_second": "-1"},
        {"title": "t", "price_per_second": "1.5"},
        {"title": "t", "price_per_second": 5},
        {"title": "t", "price_per_second": "01"},
        {"title": "t", "price_per_second": "1" * 40},
        {"title": "t"},
        {"title": "t", "price_per_second": "0", "category_id": "not-a-uuid"},
        {
            "title": "t",
            "price_per_second": "0",
            "category_id": "00000000-0000-0000-0000-000000000000",
        },
        {"title": "t" * 256, "price_per_second": "0"},
    ],
)
async def test_bad_stream_input_is_refused_and_nothing_stored(
    client: TestClient, creator: dict, db: asyncpg.Pool, body: dict
) -> None:
    before = await db.fetchval("SELECT count(*) FROM streams")
    response = await client.post("/api/streams", headers=creator, json=body)
    assert response.status == 422
    assert (await response.json())["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM streams") == before


async def test_patch_updates_fields(client: TestClient, creator: dict, db: asyncpg.Pool) -> None:
    stream = await new_stream(client, creator)
    category = await db.fetchval(
        "INSERT INTO categories (name) VALUES ('Music ' || gen_random_uuid()) RETURNING id"
    )
    response = await client.patch(
        f"/api/streams/{stream['id']}",
        headers=creator,
        json={"title": "New title", "price_per_second": "42", "category_id": str(category)},
    )
    assert response.status == 200
    body = await response.json()
    assert (body["title"], body["price_per_second"], body["category_id"]) == (
        "New title",
        "42",
        str(category),
    )
    listed = await (await client.get(f"/api/streams?category={category}")).json()
    assert [s["id"] for s in listed["items"]] == [stream["id"]]
    for bad in ({}, {"title": None}, {"price_per_second": None}, {"status": "live"}):
        assert (
            await client.patch(f"/api/streams/{stream['id']}", headers=creator, json=bad)
        ).status == 422


async def test_listing_paginates_with_cursor(client: TestClient, creator: dict) -> None:
    me = await (await client.get("/api/me", headers=creator)).json()
    created = [await new_stream(client, creator, title=f"s{i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(4):
        query = f"/api/streams?creator={me['id']}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(query)).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s["id"] for s in reversed(created)]
    for bad in ("status=paused", "limit=0", "limit=1000", "cursor=%%%", "category=x"):
        assert (await client.get(f"/api/streams?{bad}")).status == 400, bad


async def test_delete_pending_stream(client: TestClient, creator: dict) -> None:
    stream = await new_stream(client, creator)
    assert (await client.delete(f"/api/streams/{stream['id']}", headers=creator)).status == 204
    assert (await client.get(f"/api/streams/{stream['id']}")).status == 404
    assert (await client.get("/api/streams/not-a-uuid")).status == 404
