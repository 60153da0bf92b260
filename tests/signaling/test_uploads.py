"""Resumable chunked uploads through the API, processed by an in-process VOD worker.

Each test has a database of its own: the in-process worker takes every queued job it sees.
The upload and processing helpers are in tests/signaling/support/uploads.py.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from signaling.api.uploads.expiry import expire_abandoned
from signaling.api.uploads.files import upload_dir
from signaling.config import AppConfig
from signaling.keys import CONFIG
from tests.signaling.support.accounts import new_user
from tests.signaling.support.uploads import (
    CHUNK,
    chunks_of,
    media_root,
    process,
    put_chunk,
    sha256,
    start_upload,
    upload,
)
from tests.support.configs import configured
from vilokanam.wiring import create_app

pytestmark = pytest.mark.own_database  # own database and media root (tests/conftest.py)


async def test_an_upload_resumes_after_a_bad_chunk_and_becomes_a_ready_video(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    created = await start_upload(client, alice, clip, description="two seconds")
    assert created.status == 201
    info = await created.json()
    parts = chunks_of(clip)
    assert (info["chunk_size"], info["chunk_count"]) == (CHUNK, len(parts)) and len(parts) >= 3
    upload_id = info["id"]

    # Out of order: the last chunk first, then chunk 0 corrupted in transit.
    assert (await put_chunk(client, alice, upload_id, len(parts) - 1, parts[-1])).status == 201
    damaged = parts[0][:100] + bytes([parts[0][100] ^ 0xFF]) + parts[0][101:]
    bad = await put_chunk(client, alice, upload_id, 0, damaged, checksum=sha256(parts[0]))
    assert bad.status == 422
    assert "nothing was stored" in (await bad.json())["error"]["message"]
    state = await (await client.get(f"/api/uploads/{upload_id}", headers=alice)).json()
    assert state["received_chunks"] == [len(parts) - 1]
    assert state["missing_chunks"] == list(range(len(parts) - 1))
    assert state["bytes_received"] == len(parts[-1])

    # Resume: what GET says is missing, in any order; a retry of the same bytes is harmless.
    for index in reversed(state["missing_chunks"]):
        assert (await put_chunk(client, alice, upload_id, index, parts[index])).status == 201
    assert (await put_chunk(client, alice, upload_id, 0, parts[0])).status == 200
    other = await put_chunk(client, alice, upload_id, 1, parts[2][: len(parts[1])])
    assert other.status == 409

    done = await client.post(f"/api/uploads/{upload_id}/complete", headers=alice)
    assert done.status == 202
    video_id = (await done.json())["video_id"]
    again = await client.post(f"/api/uploads/{upload_id}/complete", headers=alice)
    assert (again.status, (await again.json())["video_id"]) == (202, video_id)
    assert (await put_chunk(client, alice, upload_id, 0, parts[0])).status == 409
    source = media_root(client) / "uploads" / upload_id / "source.mp4"
    assert sha256(source.read_bytes()) == sha256(clip)
    assert not (source.parent / "chunks").exists()

    pending = await (await client.get(f"/api/videos/{video_id}", headers=alice)).json()
    assert pending["status"] == "processing" and pending["title"] == "My clip"
    assert pending["processing"]["status"] == "queued"

    await process(own_db, media_root(client), video_id)
    video = await (await client.get(f"/api/videos/{video_id}")).json()
    assert video["status"] == "ready" and video["description"] == "two seconds"
    assert (video["duration"], video["width"], video["height"]) == (2, 320, 240)
    assert [r["resolution"] for r in video["renditions"]] == ["120p", "240p"]
    assert video["processing"]["status"] == "done" and video["processing"]["progress"] == 100


async def test_a_whole_file_checksum_mismatch_is_refused_and_makes_no_video(
    client: TestClient, own_db: asyncpg.Pool, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    created = await start_upload(client, alice, clip, sha256=sha256(b"another file"))
    upload_id = (await created.json())["id"]
    for index, part in enumerate(chunks_of(clip)):
        assert (await put_chunk(client, alice, upload_id, index, part)).status == 201

    done = await client.post(f"/api/uploads/{upload_id}/complete", headers=alice)
    assert done.status == 422
    assert "SHA-256" in (await done.json())["error"]["message"]
    assert await own_db.fetchval("SELECT count(*) FROM videos") == 0
    state = await (await client.get(f"/api/uploads/{upload_id}", headers=alice)).json()
    assert state["status"] == "failed" and state["video_id"] is None
    assert (await client.post(f"/api/uploads/{upload_id}/complete", headers=alice)).status == 409
    assert not (media_root(client) / "uploads" / upload_id).exists()


async def test_complete_needs_every_chunk(client: TestClient, clip: bytes) -> None:
    alice = await new_user(client, creator=True)
    upload_id = (await (await start_upload(client, alice, clip)).json())["id"]
    await put_chunk(client, alice, upload_id, 1, chunks_of(clip)[1])
    done = await client.post(f"/api/uploads/{upload_id}/complete", headers=alice)
    assert done.status == 409
    assert "chunks missing: 0, 2" in (await done.json())["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"size": 2 * 1024**3 + 1}, 413),
        ({"content_type": "text/plain"}, 415),
        ({"filename": "notes.txt"}, 415),
        ({"filename": "clip.exe", "content_type": "video/mp4"}, 415),
        ({"chunk_size": 100}, 422),
        ({"chunk_size": 65 * 1024**2}, 422),
        ({"sha256": "abc"}, 422),
        ({"size": 0}, 422),
        ({"title": ""}, 422),
    ],
)
async def test_uploads_outside_the_limits_are_refused(
    client: TestClient, clip: bytes, fields: dict, status: int
) -> None:
    alice = await new_user(client, creator=True)
    response = await start_upload(client, alice, clip, **fields)
    assert response.status == status, await response.text()


async def test_a_creators_uploads_in_progress_are_capped_in_number_and_bytes(
    app_config: AppConfig, own_db: asyncpg.Pool
) -> None:
    config = configured(app_config, upload_max_open_per_creator=2, upload_quota_bytes=10 * CHUNK)
    async with TestClient(TestServer(create_app(config))) as client:
        alice = await new_user(client, creator=True)
        assert (await start_upload(client, alice, b"a" * 4 * CHUNK)).status == 201
        too_big = await start_upload(client, alice, b"b" * 7 * CHUNK)  # 11 chunks in flight
        assert too_big.status == 413
        assert "10 chunks" not in (body := (await too_big.json())["error"]["message"])
        assert str(10 * CHUNK) in body
        assert (await start_upload(client, alice, b"c" * 6 * CHUNK)).status == 201
        # Two places are taken: any further upload is refused, however many are asked at once.
        third = await asyncio.gather(*(start_upload(client, alice, b"d" * 10) for _ in range(2)))
        assert [r.status for r in third] == [429, 429]
        assert "at most 2 uploads in progress" in (await third[0].json())["error"]["message"]
        assert await own_db.fetchval("SELECT count(*) FROM uploads") == 2  # refusals stored nothing
        bob = await new_user(client, creator=True)  # the quota is per creator
        assert (await start_upload(client, bob, b"e" * 4 * CHUNK)).status == 201


async def test_every_accepted_type_and_a_path_in_the_filename(client: TestClient) -> None:
    alice = await new_user(client, creator=True)
    for name, kind in [
        ("a.MP4", "video/mp4"),
        ("b.mov", "video/quicktime"),
        ("c.mkv", "video/x-matroska"),
        ("C:\\clips\\d.webm", "video/webm"),
    ]:
        response = await start_upload(client, alice, b"x" * 10, filename=name, content_type=kind)
        assert response.status == 201, await response.text()
    assert (await response.json())["filename"] == "d.webm"


async def test_chunks_of_the_wrong_size_type_or_checksum_header_are_refused(
    client: TestClient, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    upload_id = (await (await start_upload(client, alice, clip)).json())["id"]
    part = chunks_of(clip)[0]
    assert (await put_chunk(client, alice, upload_id, 0, part + b"x")).status == 413
    assert (await put_chunk(client, alice, upload_id, 0, part[:-1])).status == 400
    last = len(chunks_of(clip))
    assert (await put_chunk(client, alice, upload_id, last, part)).status == 404
    no_sum = await client.put(
        f"/api/uploads/{upload_id}/chunks/0",
        data=part,
        headers={**alice, "Content-Type": "application/octet-stream"},
    )
    assert no_sum.status == 400
    as_json = await client.put(
        f"/api/uploads/{upload_id}/chunks/0",
        data=part,
        headers={**alice, "Content-Type": "application/json", "X-Chunk-SHA256": sha256(part)},
    )
    assert as_json.status == 415
    state = await (await client.get(f"/api/uploads/{upload_id}", headers=alice)).json()
    assert state["received_chunks"] == []
    assert not list((media_root(client) / "uploads").rglob("chunks/*"))


async def test_chunks_larger_than_the_app_body_limit_are_streamed(client: TestClient) -> None:
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB, two chunks of 2 MiB and 1 MiB
    alice = await new_user(client, creator=True)
    created = await start_upload(client, alice, data, chunk_size=2 * 1024**2)
    upload_id = (await created.json())["id"]
    parts = chunks_of(data, 2 * 1024**2)
    results = await asyncio.gather(
        *(put_chunk(client, alice, upload_id, i, p) for i, p in enumerate(parts))
    )
    assert [r.status for r in results] == [201, 201]
    assert (await client.post(f"/api/uploads/{upload_id}/complete", headers=alice)).status == 202
    assert (media_root(client) / "uploads" / upload_id / "source.mp4").read_bytes() == data


async def test_the_same_chunk_sent_twice_at_once_is_stored_once(
    client: TestClient, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    upload_id = (await (await start_upload(client, alice, clip)).json())["id"]
    part = chunks_of(clip)[0]
    results = await asyncio.gather(
        *(put_chunk(client, alice, upload_id, 0, part) for _ in range(4))
    )
    assert sorted(r.status for r in results) == [200, 200, 200, 201]
    assert (media_root(client) / "uploads" / upload_id / "chunks" / "000000").read_bytes() == part


async def test_only_the_uploader_may_see_or_add_to_an_upload(
    client: TestClient, clip: bytes
) -> None:
    alice = await new_user(client, creator=True)
    bob = await new_user(client, creator=True)
    upload_id = (await (await start_upload(client, alice, clip)).json())["id"]
    part = chunks_of(clip)[0]
    assert (await client.get(f"/api/uploads/{upload_id}", headers=bob)).status == 403
    assert (await put_chunk(client, bob, upload_id, 0, part)).status == 403
    assert (await client.post(f"/api/uploads/{upload_id}/complete", headers=bob)).status == 403
    assert (await client.get(f"/api/uploads/{upload_id}")).status == 401
    assert (await client.get(f"/api/uploads/{uuid.uuid4()}", headers=alice)).status == 404
    viewer = await new_user(client)
    assert (await start_upload(client, viewer, clip)).status == 403


async def test_a_text_file_uploaded_as_a_video_ends_failed_with_a_reason(
    client: TestClient, own_db: asyncpg.Pool
) -> None:
    alice = await new_user(client, creator=True)
    text = b"this is my shopping list, not a video\n" * 400
    video_id = await upload(client, alice, text, filename="holiday.mp4")
    await process(own_db, media_root(client), video_id)
    video = await (await client.get(f"/api/videos/{video_id}", headers=alice)).json()
    assert video["status"] == "failed"
    assert video["processing"]["status"] == "failed"
    assert "not a media file" in video["processing"]["error"]
    assert (await client.get(f"/api/videos/{video_id}")).status == 404


async def test_abandoned_uploads_expire_with_their_chunks_and_files(
    client: TestClient, own_db: asyncpg.Pool
) -> None:
    alice = await new_user(client, creator=True)
    data = b"x" * 2 * CHUNK
    ids = [(await (await start_upload(client, alice, data)).json())["id"] for _ in range(2)]
    for upload_id in ids:
        assert (await put_chunk(client, alice, upload_id, 0, data[:CHUNK])).status == 201
    # The first one was last touched two days ago; the second is still active.
    await own_db.execute(
        "UPDATE upload_chunks SET received_at = now() - interval '2 days' "
        "WHERE upload_id = $1::uuid",
        ids[0],
    )
    async with own_db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # keep updated_at
        await conn.execute(
            "UPDATE uploads SET updated_at = now() - interval '2 days' WHERE id = $1::uuid", ids[0]
        )
    root = media_root(client)
    assert upload_dir(root, uuid.UUID(ids[0])).exists()

    expired = await expire_abandoned(own_db, root, client.app[CONFIG].uploads.upload_expiry_s)
    assert [str(i) for i in expired] == [ids[0]]
    assert not upload_dir(root, uuid.UUID(ids[0])).exists()
    assert (await client.get(f"/api/uploads/{ids[0]}", headers=alice)).status == 404
    assert (
        await own_db.fetchval(
            "SELECT count(*) FROM upload_chunks WHERE upload_id = $1::uuid", ids[0]
        )
        == 0
    )
    active = await (await client.get(f"/api/uploads/{ids[1]}", headers=alice)).json()
    assert active["received_chunks"] == [0]
