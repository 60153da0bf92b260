"""Follows, the live streams of whom I follow, and likes of videos and comments."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.signaling.support.accounts import new_stream, new_user, whoami
from tests.signaling.support.paging import all_items
from tests.signaling.support.rows import new_video

# --- follows ------------------------------------------------------------------------------------


async def test_follow_is_idempotent_and_shows_in_both_lists(client: TestClient) -> None:
    fan, star = await new_user(client), await new_user(client, creator=True)
    fan_id, star_id = (await whoami(client, fan))["id"], (await whoami(client, star))["id"]

    first = await client.post(f"/api/users/{star_id}/follow", headers=fan)
    assert first.status == 201
    assert (await first.json())["following"]["id"] == star_id
    assert (await client.post(f"/api/users/{star_id}/follow", headers=fan)).status == 204

    followers = await all_items(client, f"/api/users/{star_id}/followers")
    assert [u["id"] for u in followers] == [fan_id]
    assert followers[0]["followed_at"]
    following = await all_items(client, f"/api/users/{fan_id}/following")
    assert [u["id"] for u in following] == [star_id]

    for _ in range(2):  # unfollowing twice is fine
        assert (await client.delete(f"/api/users/{star_id}/follow", headers=fan)).status == 204
    assert await all_items(client, f"/api/users/{star_id}/followers") == []
    assert await all_items(client, f"/api/users/{fan_id}/following") == []


async def test_follow_mistakes_are_4xx(client: TestClient, db: asyncpg.Pool) -> None:
    me = await new_user(client)
    my_id = (await whoami(client, me))["id"]
    selfish = await client.post(f"/api/users/{my_id}/follow", headers=me)
    assert selfish.status == 400
    assert "yourself" in (await selfish.json())["error"]["message"]
    assert (await client.post(f"/api/users/{uuid.uuid4()}/follow", headers=me)).status == 404
    assert (await client.post("/api/users/nobody/follow", headers=me)).status == 404
    assert (await client.delete(f"/api/users/{uuid.uuid4()}/follow", headers=me)).status == 404
    assert (await client.get(f"/api/users/{uuid.uuid4()}/followers")).status == 404
    assert (await client.get(f"/api/users/{uuid.uuid4()}/following")).status == 404
    other = (await whoami(client, await new_user(client)))["id"]
    assert (await client.post(f"/api/users/{other}/follow")).status == 401
    # The database refuses a self-follow too, whatever path writes it.
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO follows (follower_id, following_id) VALUES ($1, $1)", uuid.UUID(my_id)
        )


async def test_concurrent_follows_of_the_same_user_make_one_follow(client: TestClient) -> None:
    fan, star = await new_user(client), await new_user(client)
    star_id = (await whoami(client, star))["id"]
    responses = await asyncio.gather(
        *(client.post(f"/api/users/{star_id}/follow", headers=fan) for _ in range(8))
    )
    assert sorted(r.status for r in responses) == [201] + [204] * 7
    assert len(await all_items(client, f"/api/users/{star_id}/followers")) == 1


async def test_followers_page_newest_first_without_repeats(client: TestClient) -> None:
    star_id = (await whoami(client, await new_user(client)))["id"]
    fans = []
    for _ in range(3):
        fan = await new_user(client)
        assert (await client.post(f"/api/users/{star_id}/follow", headers=fan)).status == 201
        fans.append((await whoami(client, fan))["id"])
    first = await (
        await client.get(f"/api/users/{star_id}/followers", params={"limit": "2"})
    ).json()
    second = await (
        await client.get(
            f"/api/users/{star_id}/followers", params={"limit": "2", "cursor": first["next_cursor"]}
        )
    ).json()
    assert [u["id"] for u in first["items"] + second["items"]] == list(reversed(fans))
    assert second["next_cursor"] is None


async def test_following_live_lists_only_live_streams_of_people_i_follow(
    client: TestClient, db: asyncpg.Pool
) -> None:
    fan = await new_user(client)
    followed, other = await new_user(client, creator=True), await new_user(client, creator=True)
    live = await new_stream(client, followed, title="On air")
    await new_stream(client, followed, title="Later")  # pending: not listed
    elsewhere = await new_stream(client, other)
    # Going live needs a WHIP publisher; the live flag is what this list reads.
    await db.execute(
        "UPDATE streams SET status = 'live' WHERE id = ANY($1::uuid[])",
        [uuid.UUID(live["id"]), uuid.UUID(elsewhere["id"])],
    )
    followed_id = (await whoami(client, followed))["id"]
    assert (await client.post(f"/api/users/{followed_id}/follow", headers=fan)).status == 201

    streams = await all_items(client, "/api/me/following/live", headers=fan)
    assert [(s["id"], s["title"], s["status"]) for s in streams] == [(live["id"], "On air", "live")]
    assert (await client.get("/api/me/following/live")).status == 401


# --- likes --------------------------------------------------------------------------------------


async def _like(client: TestClient, url: str, headers: dict, on: bool = True) -> int:
    response = await (client.put if on else client.delete)(url, headers=headers)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["liked"] is on
    return body["like_count"]


async def _video_likes(db: asyncpg.Pool, video: str) -> tuple[int, int]:
    """(videos.like_count, number of like rows): equal when nothing drifted."""
    row = await db.fetchrow(
        """SELECT v.like_count, (SELECT count(*) FROM video_likes l WHERE l.video_id = v.id) AS n
           FROM videos v WHERE v.id = $1""",
        uuid.UUID(video),
    )
    return row["like_count"], row["n"]


async def test_video_likes_count_once_and_never_go_negative(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    video = await new_video(db, (await whoami(client, creator))["id"])
    url = f"/api/videos/{video}/like"
    fan, other = await new_user(client), await new_user(client)

    assert await _like(client, url, fan) == 1
    assert await _like(client, url, fan) == 1  # double like
    assert await _like(client, url, fan, on=False) == 0
    assert await _like(client, url, fan, on=False) == 0  # double unlike
    assert await _like(client, url, fan) == 1  # like / unlike / like
    assert await _like(client, url, other) == 2
    assert await _video_likes(db, video) == (2, 2)


async def test_concurrent_likes_by_one_user_count_once(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    video = await new_video(db, (await whoami(client, creator))["id"])
    fan = await new_user(client)
    url = f"/api/videos/{video}/like"
    counts = await asyncio.gather(*(_like(client, url, fan) for _ in range(10)))
    assert set(counts) == {1}
    assert await _video_likes(db, video) == (1, 1)


async def test_concurrent_likes_by_many_users_lose_none(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    video = await new_video(db, (await whoami(client, creator))["id"])
    fans = [await new_user(client) for _ in range(6)]
    url = f"/api/videos/{video}/like"
    await asyncio.gather(*(_like(client, url, fan) for fan in fans))
    assert await _video_likes(db, video) == (6, 6)
    await asyncio.gather(*(_like(client, url, fan, on=False) for fan in fans))
    assert await _video_likes(db, video) == (0, 0)


async def test_like_mistakes_are_4xx(client: TestClient, db: asyncpg.Pool) -> None:
    creator = await new_user(client, creator=True)
    hidden = await new_video(db, (await whoami(client, creator))["id"], status="processing")
    fan = await new_user(client)
    assert (await client.put(f"/api/videos/{uuid.uuid4()}/like", headers=fan)).status == 404
    assert (await client.put(f"/api/videos/{hidden}/like", headers=fan)).status == 404
    assert (await client.put(f"/api/comments/{uuid.uuid4()}/like", headers=fan)).status == 404
    assert (await client.put("/api/comments/x/like", headers=fan)).status == 404
    video = await new_video(db, (await whoami(client, creator))["id"])
    assert (await client.put(f"/api/videos/{video}/like")).status == 401
    assert await _video_likes(db, video) == (0, 0)


async def test_comment_likes_count_once_and_deleted_comments_take_no_new_likes(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    video = await new_video(db, (await whoami(client, creator))["id"])
    posted = await client.post(
        f"/api/videos/{video}/comments", headers=creator, json={"content": "first!"}
    )
    comment = await posted.json()
    url = f"/api/comments/{comment['id']}/like"
    fan, other = await new_user(client), await new_user(client)

    counts = await asyncio.gather(*(_like(client, url, fan) for _ in range(5)))
    assert set(counts) == {1}
    assert await _like(client, url, fan, on=False) == 0
    assert await _like(client, url, fan) == 1
    assert await _like(client, url, other) == 2
    shown = await (await client.get(f"/api/comments/{comment['id']}")).json()
    assert shown["like_count"] == 2

    assert (await client.delete(f"/api/comments/{comment['id']}", headers=creator)).status == 204
    refused = await client.put(url, headers=await new_user(client))
    assert refused.status == 409
    assert await _like(client, url, other, on=False) == 1  # taking a like back still works
