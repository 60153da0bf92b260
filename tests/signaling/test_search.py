"""GET /api/search: streams and public videos found by the words of their titles and
descriptions (PostgreSQL full-text search over a GIN index, migration 0120)."""

from __future__ import annotations

import secrets
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.signaling.support.accounts import new_stream, new_user, whoami


def word() -> str:
    """A word no other test's titles hold (the database is shared by the session)."""
    return f"w{secrets.token_hex(5)}"


async def search(client: TestClient, q: str, **params: str) -> dict:
    response = await client.get("/api/search", params={"q": q, **params})
    assert response.status == 200, await response.text()
    return await response.json()


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


async def test_a_stream_is_found_by_any_word_of_its_title_in_any_case_and_by_a_prefix(
    client: TestClient,
) -> None:
    creator = await new_user(client, creator=True)
    topic = word()
    stream = await new_stream(client, creator, title=f"Morning {topic} and jazz")
    other = await new_stream(client, creator, title=f"Evening {topic}")

    assert ids((await search(client, topic.upper()))["streams"]) == [other["id"], stream["id"]]
    assert ids((await search(client, f"jazz {topic}"))["streams"]) == [stream["id"]]
    assert ids((await search(client, topic[:6]))["streams"]) == [other["id"], stream["id"]]
    assert (await search(client, f"{topic} opera"))["streams"] == []  # every word must match


async def test_descriptions_count_and_live_streams_come_first(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    topic = word()
    ended = await new_stream(client, creator, title="Old show")
    await client.patch(
        f"/api/streams/{ended['id']}", headers=creator, json={"description": f"all {topic}"}
    )
    live = await new_stream(client, creator, title=f"Now: {topic}")
    await db.execute("UPDATE streams SET status = 'live' WHERE id = $1", uuid.UUID(live["id"]))
    found = (await search(client, topic))["streams"]
    assert ids(found) == [live["id"], ended["id"]]
    assert found[0]["status"] == "live" and found[0]["title"] == f"Now: {topic}"


async def test_only_public_ready_videos_are_found(client: TestClient, db: asyncpg.Pool) -> None:
    creator = await new_user(client, creator=True)
    creator_id = uuid.UUID((await whoami(client, creator))["id"])
    topic = word()

    async def video(title: str, **columns: object) -> str:
        row = {"status": "ready", "is_private": False, "deleted_at": None, **columns}
        return str(
            await db.fetchval(
                """INSERT INTO videos (creator_id, title, status, is_private, deleted_at)
                   VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                creator_id,
                title,
                row["status"],
                row["is_private"],
                row["deleted_at"],
            )
        )

    public = await video(f"{topic} highlights")
    await video(f"{topic} private cut", is_private=True)
    await video(f"{topic} in processing", status="processing")
    deleted = await video(f"{topic} deleted")
    await db.execute("UPDATE videos SET deleted_at = now() WHERE id = $1", uuid.UUID(deleted))
    found = await search(client, topic)
    assert ids(found["videos"]) == [public] and found["streams"] == []
    assert found["videos"][0]["title"] == f"{topic} highlights"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "at least one word"),
        ({"q": "   "}, "at least one word"),
        ({"q": "!!! & | :*"}, "at least one word"),
        ({"q": "a" * 201}, "at most 200"),
        ({"q": "jazz", "limit": "0"}, "limit"),
        ({"q": "jazz", "limit": "abc"}, "limit"),
        ({"q": "jazz", "limit": "51"}, "limit"),
    ],
)
async def test_a_search_without_words_or_with_a_bad_limit_is_refused(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    response = await client.get("/api/search", params=params)
    assert response.status == 400
    assert message in (await response.json())["error"]["message"]


async def test_tsquery_syntax_in_the_words_is_only_words(client: TestClient) -> None:
    creator = await new_user(client, creator=True)
    topic = word()
    stream = await new_stream(client, creator, title=f"{topic} (live) & more")
    found = await search(client, f"!{topic} & (live | :*")
    assert ids(found["streams"]) == [stream["id"]]


async def test_the_search_uses_the_gin_index(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in await conn.fetch(
                """EXPLAIN SELECT id FROM streams s WHERE
                   to_tsvector('simple', s.title || ' ' || coalesce(s.description, ''))
                   @@ to_tsquery('simple', 'jazz:*')"""
            )
        )
    assert "streams_search_idx" in plan
