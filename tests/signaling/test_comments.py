"""Comments on videos and streams: threads, edits, soft deletes and a comment count that holds."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.signaling.support.accounts import new_stream, new_user, user_with_role, whoami
from tests.signaling.support.paging import all_items
from tests.signaling.support.rows import new_video


@pytest.fixture
async def video(client: TestClient, db: asyncpg.Pool, creator: dict) -> str:
    return await new_video(db, (await whoami(client, creator))["id"])


async def post(
    client: TestClient,
    url: str,
    headers: dict,
    content: str = "hello",
    parent_id: str | None = None,
) -> dict:
    body = {"content": content, **({"parent_id": parent_id} if parent_id else {})}
    response = await client.post(url, headers=headers, json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def comment_count(client: TestClient, creator: dict, video: str, db: asyncpg.Pool) -> int:
    """The creator's analytics count, checked against the rows it counts."""
    stats = await (await client.get(f"/api/videos/{video}/analytics", headers=creator)).json()
    rows = await db.fetchval(
        "SELECT count(*) FROM comments WHERE video_id = $1 AND NOT is_deleted", uuid.UUID(video)
    )
    assert stats["comment_count"] == rows
    return rows


async def test_a_thread_on_a_video(
    client: TestClient, db: asyncpg.Pool, creator: dict, video: str
) -> None:
    fan = await new_user(client)
    url = f"/api/videos/{video}/comments"
    top = await post(client, url, fan, "  Great video  ")
    assert top["content"] == "Great video"  # cleaned like chat
    assert top["video_id"] == video and top["stream_id"] is None
    assert top["author"]["id"] == (await whoami(client, fan))["id"]
    reply = await post(client, url, creator, "thanks", parent_id=top["id"])
    assert reply["parent_id"] == top["id"]

    listed = await all_items(client, url)
    assert [c["id"] for c in listed] == [top["id"]]  # top level only
    assert listed[0]["reply_count"] == 1
    replies = await all_items(client, f"{url}?parent_id={top['id']}")
    assert [c["content"] for c in replies] == ["thanks"]
    assert await comment_count(client, creator, video, db) == 2


async def test_a_reply_must_stay_on_its_parents_video_or_stream(
    client: TestClient, db: asyncpg.Pool, creator: dict, video: str
) -> None:
    other_video = await new_video(db, (await whoami(client, creator))["id"])
    stream = await new_stream(client, creator)
    elsewhere = await post(client, f"/api/videos/{other_video}/comments", creator)
    on_stream = await post(client, f"/api/streams/{stream['id']}/comments", creator)
    url = f"/api/videos/{video}/comments"
    for parent in (elsewhere["id"], on_stream["id"], str(uuid.uuid4())):
        response = await client.post(
            url, headers=creator, json={"content": "reply", "parent_id": parent}
        )
        assert response.status == 422, parent
        assert "parent_id" in (await response.json())["error"]["message"]
    assert await all_items(client, url) == []
    # The database refuses such a reply whatever path writes it.
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO comments (video_id, author_id, parent_id, content) "
            "SELECT $1, author_id, id, 'x' FROM comments WHERE id = $2",
            uuid.UUID(video),
            uuid.UUID(elsewhere["id"]),
        )


async def test_bad_comment_input_is_refused_with_4xx(
    client: TestClient, creator: dict, video: str
) -> None:
    url = f"/api/videos/{video}/comments"
    for body in (
        {"content": ""},
        {"content": "   "},
        {"content": "x" * 501},
        {},
        {"content": 7},
        {"content": "hi", "rating": 5},
        {"content": "hi", "parent_id": "nope"},
    ):
        response = await client.post(url, headers=creator, json=body)
        assert response.status == 422, body
    assert (await client.post(url, headers=creator, data=b"hi")).status == 415
    assert (await client.post(url, json={"content": "hi"})).status == 401
    missing = f"/api/videos/{uuid.uuid4()}/comments"
    assert (await client.post(missing, headers=creator, json={"content": "hi"})).status == 404
    assert (await client.get(missing)).status == 404
    assert (await client.get(f"/api/streams/{uuid.uuid4()}/comments")).status == 404
    assert (await client.get(url, params={"parent_id": "x"})).status == 400
    assert (await client.get(url, params={"parent_id": str(uuid.uuid4())})).status == 422
    assert await all_items(client, url) == []


async def test_only_the_author_edits(
    client: TestClient, db: asyncpg.Pool, creator: dict, video: str
) -> None:
    author = await new_user(client)
    comment = await post(client, f"/api/videos/{video}/comments", author, "typo")
    url = f"/api/comments/{comment['id']}"
    for stranger in (await new_user(client), creator, await user_with_role(client, db, "admin")):
        assert (await client.patch(url, headers=stranger, json={"content": "x"})).status == 403
    edited = await client.patch(url, headers=author, json={"content": "fixed"})
    assert edited.status == 200
    assert (await edited.json())["content"] == "fixed"
    assert (await (await client.get(url)).json())["content"] == "fixed"
    assert (await client.patch(url, headers=author, json={"content": ""})).status == 422
    assert (
        await client.patch(f"/api/comments/{uuid.uuid4()}", headers=author, json={"content": "x"})
    ).status == 404


async def test_soft_delete_by_author_or_moderator_keeps_the_count_right(
    client: TestClient, db: asyncpg.Pool, creator: dict, video: str
) -> None:
    url = f"/api/videos/{video}/comments"
    author = await new_user(client)
    mine, theirs, kept = [await post(client, url, author, f"c{i}") for i in range(3)]
    assert await comment_count(client, creator, video, db) == 3

    stranger = await new_user(client)
    assert (await client.delete(f"/api/comments/{mine['id']}", headers=stranger)).status == 403
    for _ in range(2):  # deleting twice counts once
        assert (await client.delete(f"/api/comments/{mine['id']}", headers=author)).status == 204
    moderator = await user_with_role(client, db, "moderator")
    assert (await client.delete(f"/api/comments/{theirs['id']}", headers=moderator)).status == 204
    assert await comment_count(client, creator, video, db) == 1

    shown = {c["id"]: c for c in await all_items(client, url)}
    assert shown[mine["id"]]["is_deleted"] is True
    assert shown[mine["id"]]["content"] is None and shown[mine["id"]]["author"] is None
    assert shown[kept["id"]]["content"] == "c2"
    edit = await client.patch(
        f"/api/comments/{mine['id']}", headers=author, json={"content": "back"}
    )
    assert edit.status == 409


async def test_concurrent_comments_and_deletes_never_drift(
    client: TestClient, db: asyncpg.Pool, creator: dict, video: str
) -> None:
    url = f"/api/videos/{video}/comments"
    posted = await asyncio.gather(*(post(client, url, creator, f"n{i}") for i in range(8)))
    await asyncio.gather(
        *(
            client.delete(f"/api/comments/{c['id']}", headers=creator)
            for c in posted[:5]
            for _ in range(2)
        )
    )
    assert await comment_count(client, creator, video, db) == 3


async def test_comments_page_newest_first(client: TestClient, creator: dict, video: str) -> None:
    url = f"/api/videos/{video}/comments"
    ids = [(await post(client, url, creator, f"m{i}"))["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get(url, params=params)).json()
        seen += [c["id"] for c in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == list(reversed(ids))


async def test_stream_comments_are_the_stream_chat(client: TestClient, creator: dict) -> None:
    stream = await new_stream(client, creator)
    ws = await client.ws_connect(f"/ws/streams/{stream['id']}")
    history = await ws.receive_json()
    assert history["type"] == "history" and history["messages"] == []
    fan = await new_user(client)
    url = f"/api/streams/{stream['id']}/comments"
    comment = await post(client, url, fan, "hi from the API")
    assert comment["stream_id"] == stream["id"] and comment["video_id"] is None
    async with asyncio.timeout(10):
        while (message := await ws.receive_json())["type"] != "chat":
            pass
    assert (message["id"], message["content"]) == (comment["id"], "hi from the API")
    await ws.close()
    assert [c["id"] for c in await all_items(client, url)] == [comment["id"]]
