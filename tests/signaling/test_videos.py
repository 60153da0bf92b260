"""Videos API and media files: listing, detail, edit, soft delete, views, Range, traversal."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from signaling.keys import CONFIG
from tests.signaling.support.accounts import new_user
from tests.signaling.support.uploads import media_root, process, upload

pytestmark = pytest.mark.own_database  # own database and media root (tests/conftest.py)


async def ready_video(client: TestClient, db: asyncpg.Pool, clip: bytes, title: str = "Clip"):
    """(creator headers, video id) of a freshly uploaded and processed video."""
    alice = await new_user(client, creator=True)
    video_id = await upload(client, alice, clip, title=title)
    await process(db, media_root(client), video_id)
    return alice, video_id


async def raw_get(client: TestClient, target: str) -> int:
    """Status of a GET sent byte for byte (a client library would normalise `..` away)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def test_a_ready_video_lists_with_renditions_thumbnail_and_hls(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice, video_id = await ready_video(client, own_db, clip, title="Sunrise")
    listing = await (await client.get("/api/videos")).json()
    assert [v["id"] for v in listing["items"]] == [video_id]
    assert listing["items"][0]["title"] == "Sunrise"
    mine = await client.get(f"/api/videos?creator={listing['items'][0]['creator']['id']}")
    assert len((await mine.json())["items"]) == 1
    nobody = await client.get(f"/api/videos?creator={uuid.uuid4()}")
    assert (await nobody.json())["items"] == []

    video = await (await client.get(f"/api/videos/{video_id}")).json()
    small, large = video["renditions"]
    assert (small["width"], small["height"], small["bitrate_kbps"]) == (160, 120, 150)
    assert (large["width"], large["height"], large["bitrate_kbps"]) == (320, 240, 400)
    for rendition in video["renditions"]:
        response = await client.get(rendition["url"])
        assert response.status == 200 and response.content_type == "video/mp4"
        assert len(await response.read()) == rendition["file_size"]
    thumbnail = await client.get(video["thumbnail_url"])
    assert thumbnail.content_type == "image/jpeg" and (await thumbnail.read())[:2] == b"\xff\xd8"

    master = await client.get(video["hls_url"])
    assert master.content_type == "application/vnd.apple.mpegurl"
    assert "RESOLUTION=320x240" in await master.text()
    playlist = await client.get(large["hls_url"])
    assert playlist.content_type == "application/vnd.apple.mpegurl"
    segment = next(line for line in (await playlist.text()).splitlines() if line.endswith(".ts"))
    ts = await client.get(large["hls_url"].rsplit("/", 1)[0] + "/" + segment)
    assert ts.content_type == "video/mp2t" and (await ts.read())[0] == 0x47  # TS sync byte


async def test_media_files_answer_range_requests_with_206(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    _, video_id = await ready_video(client, own_db, clip)
    video = await (await client.get(f"/api/videos/{video_id}")).json()
    url, size = video["renditions"][1]["url"], video["renditions"][1]["file_size"]
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{size}"
    whole = await (await client.get(url)).read()
    assert await part.read() == whole[100:200]
    tail = await client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status == 206 and await tail.read() == whole[-10:]
    beyond = await client.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert beyond.status == 416


async def test_files_of_a_video_not_ready_or_deleted_are_not_served(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice, video_id = await ready_video(client, own_db, clip)
    video = await (await client.get(f"/api/videos/{video_id}")).json()
    files = [video["renditions"][0]["url"], video["hls_url"], video["thumbnail_url"]]
    # A second upload, not processed yet: nothing of it is served, its page is its creator's.
    pending_id = await upload(client, alice, clip, title="Later")
    assert (await client.get(f"/media/videos/{pending_id}/240p.mp4")).status == 404
    assert (await client.get(f"/api/videos/{pending_id}")).status == 404
    bob = await new_user(client)
    assert (await client.get(f"/api/videos/{pending_id}", headers=bob)).status == 404
    assert (await client.get(f"/api/videos/{pending_id}", headers=alice)).status == 200
    listed = await (await client.get("/api/videos")).json()
    assert [v["id"] for v in listed["items"]] == [video_id]

    assert (await client.delete(f"/api/videos/{video_id}", headers=bob)).status == 403
    assert (await client.delete(f"/api/videos/{video_id}")).status == 401
    assert (await client.delete(f"/api/videos/{video_id}", headers=alice)).status == 204
    for url in files:
        assert (await client.get(url)).status == 404
    assert (await client.get(f"/api/videos/{video_id}", headers=alice)).status == 404
    assert (await (await client.get("/api/videos")).json())["items"] == []
    assert (
        await client.patch(f"/api/videos/{video_id}", headers=alice, json={"title": "back?"})
    ).status == 404
    assert (await client.delete(f"/api/videos/{video_id}", headers=alice)).status == 404


async def test_no_path_leaves_the_video_folder(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice, video_id = await ready_video(client, own_db, clip)
    [upload_dir] = (media_root(client) / "uploads").iterdir()
    assert (upload_dir / "source.mp4").is_file()
    base = f"/media/videos/{video_id}"
    assert await raw_get(client, f"{base}/240p.mp4") == 200
    for target in (
        f"{base}/../../uploads/{upload_dir.name}/source.mp4",
        f"{base}/%2e%2e/%2e%2e/uploads/{upload_dir.name}/source.mp4",
        f"{base}/..%2f..%2fuploads%2f{upload_dir.name}%2fsource.mp4",
        f"{base}/hls/../240p.mp4",
        f"{base}//etc/passwd",
        f"{base}/.hidden.mp4",
        "/media/videos/../uploads/x/source.mp4",
    ):
        assert await raw_get(client, target) == 404, target


async def test_the_creator_edits_title_and_description(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice, video_id = await ready_video(client, own_db, clip)
    bob = await new_user(client, creator=True)
    url = f"/api/videos/{video_id}"
    assert (await client.patch(url, headers=bob, json={"title": "mine now"})).status == 403
    assert (await client.patch(url, json={"title": "anon"})).status == 401
    assert (await client.patch(url, headers=alice, json={})).status == 422
    assert (await client.patch(url, headers=alice, json={"title": None})).status == 422
    assert (await client.patch(url, headers=alice, json={"views": 9})).status == 422
    edited = await client.patch(
        url, headers=alice, json={"title": "Sunset", "description": "orange sky"}
    )
    assert edited.status == 200
    seen = await (await client.get(url)).json()
    assert (seen["title"], seen["description"]) == ("Sunset", "orange sky")


async def test_views_are_counted_once_per_playback_and_validated(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice, video_id = await ready_video(client, own_db, clip)
    url = f"/api/videos/{video_id}/views"
    playback = str(uuid.uuid4())
    first = await client.post(
        url, json={"view_duration": 1, "watch_completion": 40, "playback_id": playback}
    )
    assert first.status == 201
    later = await client.post(
        url, json={"view_duration": 2, "watch_completion": 100, "playback_id": playback}
    )
    assert later.status == 200
    bob = await new_user(client)
    assert (
        await client.post(url, headers=bob, json={"view_duration": 0.4, "watch_completion": 20})
    ).status == 201
    video = await (await client.get(f"/api/videos/{video_id}")).json()
    assert video["view_count"] == 2
    rows = await own_db.fetch(
        "SELECT viewer_id, view_duration, watch_completion FROM video_views ORDER BY created_at"
    )
    assert [(r["view_duration"], float(r["watch_completion"])) for r in rows] == [
        (2, 100.0),
        (0, 20.0),
    ]
    assert rows[0]["viewer_id"] is None and rows[1]["viewer_id"] is not None

    for bad in (
        {"view_duration": 5, "watch_completion": 10},
        {"view_duration": -1, "watch_completion": 10},
        {"view_duration": 1, "watch_completion": 100.5},
        {"view_duration": 1},
    ):
        assert (await client.post(url, json=bad)).status == 422, bad
    assert (
        await client.post(
            f"/api/videos/{uuid.uuid4()}/views", json={"view_duration": 1, "watch_completion": 1}
        )
    ).status == 404


async def test_a_viewer_counts_once_per_video_per_window_and_repeats_are_still_stored(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes, redis
) -> None:
    _, video_id = await ready_video(client, own_db, clip)
    url = f"/api/videos/{video_id}/views"
    report = {"view_duration": 1, "watch_completion": 50}
    bob = await new_user(client)
    answers = [
        await client.post(url, headers=headers, json=report) for headers in ({}, {}, bob, bob)
    ]  # anonymous twice (one IP), bob twice
    assert [a.status for a in answers] == [201] * 4  # repeats are accepted, not refused
    assert [(await a.json())["counted"] for a in answers] == [True, False, True, False]
    assert (await (await client.get(f"/api/videos/{video_id}")).json())["view_count"] == 2
    assert await own_db.fetchval("SELECT count(*) FROM video_views") == 4

    # Once the window is over, the same viewer counts again.
    window = client.app[CONFIG].limits.view_count_window_s
    prefix = client.app[CONFIG].server.redis_prefix
    for key in [k async for k in redis.scan_iter(f"{prefix}rate:view:*")]:
        assert 0 < await redis.ttl(key) <= window
        await redis.delete(key)  # what expiry does after the window
    assert (await (await client.post(url, headers=bob, json=report)).json())["counted"] is True
    assert (await (await client.get(f"/api/videos/{video_id}")).json())["view_count"] == 3


async def test_listing_sorts_by_views_and_pages_with_a_cursor(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    ids = [await upload(client, alice, clip, title=f"Clip {n}") for n in range(3)]
    await process(own_db, media_root(client), *ids)
    popular = ids[0]  # the oldest
    # Two viewers: one anonymous (by IP), one signed in (one IP counts once per window).
    for headers in ({}, await new_user(client)):
        await client.post(
            f"/api/videos/{popular}/views",
            headers=headers,
            json={"view_duration": 1, "watch_completion": 50},
        )

    newest = await (await client.get("/api/videos?limit=2")).json()
    assert [v["id"] for v in newest["items"]] == [ids[2], ids[1]]
    rest = await (await client.get(f"/api/videos?limit=2&cursor={newest['next_cursor']}")).json()
    assert [v["id"] for v in rest["items"]] == [ids[0]] and rest["next_cursor"] is None

    top = await (await client.get("/api/videos?sort=most_viewed&limit=2")).json()
    assert [v["id"] for v in top["items"]] == [popular, ids[2]]
    assert top["items"][0]["view_count"] == 2
    more = await client.get(f"/api/videos?sort=most_viewed&limit=2&cursor={top['next_cursor']}")
    assert [v["id"] for v in (await more.json())["items"]] == [ids[1]]

    assert (await client.get("/api/videos?sort=oldest")).status == 400
    assert (await client.get("/api/videos?sort=most_viewed&cursor=x.y")).status == 400
    assert (await client.get("/api/videos?category=nope")).status == 400
