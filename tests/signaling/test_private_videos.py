"""A paid stream's recording is private to its creator until they publish it (issue 10 item 9).

Not listed, 404 to others (API, media files, view reports, likes, comments), served to its
creator; `POST /api/videos/{id}/publish` makes it an ordinary public video.
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from recorder import video_dir
from signaling.config import AppConfig
from tests.signaling.support.accounts import new_user


@pytest.fixture
async def private_video(
    client: TestClient, db: asyncpg.Pool, app_config: AppConfig, creator: dict
) -> uuid.UUID:
    """A ready, private video of `creator` (what the recorder makes of a paid stream)."""
    me = await (await client.get("/api/me", headers=creator)).json()
    video_id = await db.fetchval(
        """INSERT INTO videos (creator_id, title, status, duration, is_private, published_at)
           VALUES ($1::uuid, 'Paid show', 'ready', 60, true, now()) RETURNING id""",
        me["id"],
    )
    folder = video_dir(app_config.media.media_root, str(video_id))
    folder.mkdir(parents=True)
    (folder / "thumbnail.jpg").write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    return video_id


async def _listed(client: TestClient, video_id: uuid.UUID, creator_id: str) -> bool:
    response = await client.get("/api/videos", params={"creator": creator_id})
    assert response.status == 200
    return str(video_id) in {item["id"] for item in (await response.json())["items"]}


async def test_private_video_is_hidden_from_everyone_but_its_creator(
    client: TestClient, private_video: uuid.UUID, creator: dict
) -> None:
    creator_id = (await (await client.get("/api/me", headers=creator)).json())["id"]
    viewer = await new_user(client)
    assert not await _listed(client, private_video, creator_id)
    for headers in ({}, viewer):
        for method, path in (
            ("GET", f"/api/videos/{private_video}"),
            ("GET", f"/media/videos/{private_video}/thumbnail.jpg"),
            ("GET", f"/api/videos/{private_video}/comments"),
            ("PUT", f"/api/videos/{private_video}/like"),
        ):
            response = await client.request(method, path, headers=headers)
            assert response.status in (401, 404), (method, path, headers, response.status)
        report = await client.post(
            f"/api/videos/{private_video}/views",
            headers=headers,
            json={"view_duration": 10, "watch_completion": 10},
        )
        assert report.status == 404
    own = await client.get(f"/api/videos/{private_video}", headers=creator)
    assert own.status == 200 and (await own.json())["private"] is True
    file = await client.get(f"/media/videos/{private_video}/thumbnail.jpg", headers=creator)
    assert file.status == 200


async def test_creator_publishes_a_private_video(
    client: TestClient, private_video: uuid.UUID, creator: dict
) -> None:
    creator_id = (await (await client.get("/api/me", headers=creator)).json())["id"]
    viewer = await new_user(client)
    assert (await client.post(f"/api/videos/{private_video}/publish", headers=viewer)).status == 403
    published = await client.post(f"/api/videos/{private_video}/publish", headers=creator)
    assert published.status == 200 and (await published.json())["private"] is False
    assert await _listed(client, private_video, creator_id)
    assert (await client.get(f"/api/videos/{private_video}", headers=viewer)).status == 200
    assert (await client.get(f"/media/videos/{private_video}/thumbnail.jpg")).status == 200
