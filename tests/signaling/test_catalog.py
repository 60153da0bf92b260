"""Categories (admins manage, anyone lists), video categorisation and the creator's analytics."""

from __future__ import annotations

import secrets
import uuid

import asyncpg
from aiohttp.test_utils import TestClient

from tests.signaling.support.accounts import new_stream, new_user, user_with_role, whoami
from tests.signaling.support.paging import all_items
from tests.signaling.support.rows import new_video

# --- helpers ------------------------------------------------------------------------------------


def unique_name(prefix: str = "Category") -> str:
    return f"{prefix} {secrets.token_hex(4)}"


async def new_category(client: TestClient, admin: dict, name: str | None = None) -> dict:
    response = await client.post(
        "/api/categories", headers=admin, json={"name": name or unique_name(), "description": "d"}
    )
    assert response.status == 201, await response.text()
    return await response.json()


# --- categories ---------------------------------------------------------------------------------


async def test_admin_creates_a_category_that_anyone_lists(
    client: TestClient, db: asyncpg.Pool
) -> None:
    admin = await user_with_role(client, db, "admin")
    name = unique_name("Music")
    created = await new_category(client, admin, name)
    assert created["name"] == name and created["description"] == "d"
    listed = await all_items(client, "/api/categories")  # signed out
    assert [c for c in listed if c["id"] == created["id"]] == [created]
    single = await client.get(f"/api/categories/{created['id']}")
    assert await single.json() == created


async def test_only_admins_manage_categories(client: TestClient, db: asyncpg.Pool) -> None:
    admin = await user_with_role(client, db, "admin")
    category = await new_category(client, admin)
    url = f"/api/categories/{category['id']}"
    for headers in (await new_user(client), await user_with_role(client, db, "moderator")):
        assert (
            await client.post("/api/categories", headers=headers, json={"name": unique_name()})
        ).status == 403
        assert (await client.patch(url, headers=headers, json={"name": "x"})).status == 403
        assert (await client.delete(url, headers=headers)).status == 403
    assert (await client.post("/api/categories", json={"name": unique_name()})).status == 401
    assert (await client.get(url)).status == 200  # still there, unchanged
    assert (await (await client.get(url)).json())["name"] == category["name"]


async def test_category_names_are_unique_whatever_their_case(
    client: TestClient, db: asyncpg.Pool
) -> None:
    admin = await user_with_role(client, db, "admin")
    name = unique_name("Gaming")
    await new_category(client, admin, name)
    again = await client.post("/api/categories", headers=admin, json={"name": name.upper()})
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "taken"
    other = await new_category(client, admin)
    renamed = await client.patch(
        f"/api/categories/{other['id']}", headers=admin, json={"name": name}
    )
    assert renamed.status == 409


async def test_bad_category_input_is_refused_with_4xx(client: TestClient, db: asyncpg.Pool) -> None:
    admin = await user_with_role(client, db, "admin")
    for body in (
        {"name": ""},
        {"name": "x" * 101},
        {},
        {"name": "ok", "colour": "red"},
        {"name": 5},
    ):
        response = await client.post("/api/categories", headers=admin, json=body)
        assert response.status == 422, body
        assert (await response.json())["error"]["code"] == "invalid_field"
    category = await new_category(client, admin)
    url = f"/api/categories/{category['id']}"
    assert (await client.patch(url, headers=admin, json={})).status == 422
    assert (await client.patch(url, headers=admin, json={"name": None})).status == 422
    assert (
        await client.patch(f"/api/categories/{uuid.uuid4()}", headers=admin, json={"name": "x"})
    ).status == 404
    assert (await client.delete("/api/categories/not-a-uuid", headers=admin)).status == 404
    assert (await client.get("/api/categories", params={"limit": "0"})).status == 400
    assert (await client.get("/api/categories", params={"cursor": "%%%"})).status == 400


async def test_admin_edits_and_deletes_a_category_and_its_streams_become_uncategorised(
    client: TestClient, db: asyncpg.Pool
) -> None:
    admin = await user_with_role(client, db, "admin")
    category = await new_category(client, admin)
    url = f"/api/categories/{category['id']}"
    edited = await client.patch(url, headers=admin, json={"description": "new words"})
    assert edited.status == 200
    assert (await edited.json())["description"] == "new words"

    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator)
    patched = await client.patch(
        f"/api/streams/{stream['id']}", headers=creator, json={"category_id": category["id"]}
    )
    assert (await patched.json())["category_id"] == category["id"]

    assert (await client.delete(url, headers=admin)).status == 204
    assert (await client.get(url)).status == 404
    assert (await client.delete(url, headers=admin)).status == 404
    after = await client.get(f"/api/streams/{stream['id']}")
    assert (await after.json())["category_id"] is None


async def test_categories_page_without_gaps_or_repeats(
    client: TestClient, db: asyncpg.Pool
) -> None:
    admin = await user_with_role(client, db, "admin")
    mine = [(await new_category(client, admin))["id"] for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/api/categories", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == len(set(seen))
    assert [c for c in seen if c in mine] == list(reversed(mine))  # newest first


# --- videos -------------------------------------------------------------------------------------


async def test_the_creator_categorises_a_video_idempotently(
    client: TestClient, db: asyncpg.Pool
) -> None:
    admin = await user_with_role(client, db, "admin")
    category = await new_category(client, admin)
    creator = await new_user(client, creator=True)
    video = await new_video(db, (await whoami(client, creator))["id"])
    url = f"/api/videos/{video}/categories/{category['id']}"

    for _ in range(2):
        assert (await client.put(url, headers=creator)).status == 204
    listed = await all_items(client, f"/api/videos/{video}/categories")
    assert [c["id"] for c in listed] == [category["id"]]

    assert (await client.delete(url, headers=creator)).status == 204
    assert await all_items(client, f"/api/videos/{video}/categories") == []


async def test_only_the_creator_categorises_and_unknown_ids_are_404(
    client: TestClient, db: asyncpg.Pool
) -> None:
    admin = await user_with_role(client, db, "admin")
    category = await new_category(client, admin)
    creator = await new_user(client, creator=True)
    video = await new_video(db, (await whoami(client, creator))["id"])
    url = f"/api/videos/{video}/categories/{category['id']}"

    assert (await client.put(url, headers=await new_user(client))).status == 403
    assert (await client.put(url, headers=admin)).status == 403
    assert (await client.put(url)).status == 401
    assert await all_items(client, f"/api/videos/{video}/categories") == []
    missing_video = f"/api/videos/{uuid.uuid4()}/categories/{category['id']}"
    assert (await client.put(missing_video, headers=creator)).status == 404
    missing_category = f"/api/videos/{video}/categories/{uuid.uuid4()}"
    assert (await client.put(missing_category, headers=creator)).status == 404


async def test_a_video_that_is_not_ready_is_the_creators_alone(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    video = await new_video(db, (await whoami(client, creator))["id"], status="processing")
    url = f"/api/videos/{video}/categories"
    assert (await client.get(url)).status == 404
    assert (await client.get(url, headers=await new_user(client))).status == 404
    assert (await client.get(url, headers=creator)).status == 200


async def test_only_the_creator_sees_video_analytics(client: TestClient, db: asyncpg.Pool) -> None:
    creator = await new_user(client, creator=True)
    creator_id = (await whoami(client, creator))["id"]
    video = await new_video(db, creator_id)
    viewer = await new_user(client)
    viewer_id = uuid.UUID((await whoami(client, viewer))["id"])
    await db.executemany(
        """INSERT INTO video_views (video_id, viewer_id, view_duration, watch_completion)
           VALUES ($1, $2, $3, $4)""",
        [
            (uuid.UUID(video), viewer_id, 30, 50),
            (uuid.UUID(video), viewer_id, 60, 100),
            (uuid.UUID(video), None, 15, 25),
        ],
    )
    assert (await client.put(f"/api/videos/{video}/like", headers=viewer)).status == 200

    response = await client.get(f"/api/videos/{video}/analytics", headers=creator)
    assert response.status == 200
    stats = await response.json()
    assert stats["video_id"] == video and stats["creator_id"] == creator_id
    assert (stats["view_count"], stats["unique_viewers"], stats["like_count"]) == (3, 2, 1)
    assert stats["avg_view_duration"] == 35.0
    assert stats["avg_watch_completion"] == 58.33

    assert (await client.get(f"/api/videos/{video}/analytics", headers=viewer)).status == 403
    assert (await client.get(f"/api/videos/{video}/analytics")).status == 401
    missing = await client.get(f"/api/videos/{uuid.uuid4()}/analytics", headers=creator)
    assert missing.status == 404
    pending = await new_video(db, creator_id, status="processing")
    assert (await client.get(f"/api/videos/{pending}/analytics", headers=creator)).status == 409
