"""Reports by users, the moderators' queue and review, and `vilokanam grant`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient
from substrateinterface import Keypair

from billing.accounts import to_ss58
from tests.signaling.support.accounts import new_stream, new_user, user_with_role, whoami
from tests.signaling.support.paging import all_items
from tests.signaling.support.rows import new_video


async def report(
    client: TestClient,
    headers: dict,
    target_type: str,
    target_id: str,
    reason: str = "spam",
    expect: int = 201,
) -> dict:
    response = await client.post(
        "/api/reports",
        headers=headers,
        json={
            "target_type": target_type,
            "target_id": target_id,
            "reason": reason,
            "description": "see for yourself",
        },
    )
    assert response.status == expect, await response.text()
    return await response.json()


async def queue(client: TestClient, moderator: dict, **filters: str) -> dict[str, dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    items = await all_items(client, f"/api/moderation/reports?{query}", headers=moderator)
    return {r["id"]: r for r in items}


async def test_anything_can_be_reported_and_moderators_see_it(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    creator_id = (await whoami(client, creator))["id"]
    video = await new_video(db, creator_id)
    stream = await new_stream(client, creator)
    comment = await (
        await client.post(
            f"/api/videos/{video}/comments", headers=creator, json={"content": "buy my stuff"}
        )
    ).json()
    reporter = await new_user(client)
    filed = [
        await report(client, reporter, kind, target)
        for kind, target in (
            ("video", video),
            ("stream", stream["id"]),
            ("comment", comment["id"]),
            ("user", creator_id),
        )
    ]
    assert {r["status"] for r in filed} == {"pending"}

    moderator = await user_with_role(client, db, "moderator")
    pending = await queue(client, moderator, status="pending")
    for mine in filed:
        shown = pending[mine["id"]]
        assert (shown["target_type"], shown["target_id"]) == (
            mine["target_type"],
            mine["target_id"],
        )
        assert shown["reporter"]["id"] == (await whoami(client, reporter))["id"]
    only_videos = await queue(client, moderator, target_type="video")
    assert {r["target_type"] for r in only_videos.values()} == {"video"}
    assert filed[0]["id"] in only_videos and filed[1]["id"] not in only_videos


async def test_report_mistakes_are_4xx(client: TestClient, db: asyncpg.Pool) -> None:
    reporter = await new_user(client)
    target = (await whoami(client, await new_user(client)))["id"]
    for kind in ("video", "comment", "user", "stream"):
        await report(client, reporter, kind, str(uuid.uuid4()), expect=422)
    for body in (
        {"target_type": "planet", "target_id": target, "reason": "x"},
        {"target_type": "user", "target_id": "nope", "reason": "x"},
        {"target_type": "user", "target_id": target, "reason": ""},
        {"target_type": "user", "target_id": target, "reason": "x" * 101},
        {"target_type": "user", "target_id": target},
    ):
        response = await client.post("/api/reports", headers=reporter, json=body)
        assert response.status == 422, body
    assert (
        await client.post(
            "/api/reports", json={"target_type": "user", "target_id": target, "reason": "x"}
        )
    ).status == 401
    # One pending report per reporter and target.
    await report(client, reporter, "user", target)
    again = await report(client, reporter, "user", target, expect=409)
    assert "already" in again["error"]["message"]


async def test_only_moderators_see_and_review_reports(client: TestClient, db: asyncpg.Pool) -> None:
    reporter = await new_user(client)
    target = (await whoami(client, await new_user(client)))["id"]
    filed = await report(client, reporter, "user", target)
    url = f"/api/moderation/reports/{filed['id']}"
    for outsider in (reporter, await new_user(client, creator=True)):
        assert (await client.get("/api/moderation/reports", headers=outsider)).status == 403
        assert (
            await client.patch(url, headers=outsider, json={"status": "dismissed"})
        ).status == 403
    assert (await client.get("/api/moderation/reports")).status == 401
    admin = await user_with_role(client, db, "admin")  # admins moderate too
    assert filed["id"] in await queue(client, admin, status="pending")
    moderator = await user_with_role(client, db, "moderator")
    assert (await queue(client, moderator, status="pending"))[filed["id"]]["status"] == "pending"


async def test_review_moves_a_pending_report_to_a_final_status_once(
    client: TestClient, db: asyncpg.Pool
) -> None:
    reporter = await new_user(client)
    target = (await whoami(client, await new_user(client)))["id"]
    filed = await report(client, reporter, "user", target)
    url = f"/api/moderation/reports/{filed['id']}"
    moderator = await user_with_role(client, db, "moderator")
    moderator_id = (await whoami(client, moderator))["id"]

    for bad in ({"status": "pending"}, {"status": "banned"}, {}):
        assert (await client.patch(url, headers=moderator, json=bad)).status == 422
    unknown = f"/api/moderation/reports/{uuid.uuid4()}"
    assert (
        await client.patch(unknown, headers=moderator, json={"status": "dismissed"})
    ).status == 404

    first, second = await asyncio.gather(
        client.patch(url, headers=moderator, json={"status": "action_taken"}),
        client.patch(url, headers=moderator, json={"status": "dismissed"}),
    )
    assert sorted((first.status, second.status)) == [200, 409]
    winner = await (first if first.status == 200 else second).json()
    assert winner["reviewed_by"] == moderator_id and winner["reviewed_at"]
    reviewed = (await queue(client, moderator, status=winner["status"]))[filed["id"]]
    assert reviewed == winner
    assert filed["id"] not in await queue(client, moderator, status="pending")
    assert (
        await client.get("/api/moderation/reports", headers=moderator, params={"status": "open"})
    ).status == 400
    # Reviewed, so the same reporter may report the same target again.
    await report(client, reporter, "user", target)


def _vilokanam(database_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "VILOKANAM_ENV": "dev"}
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "vilokanam", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_grant_by_any_address_prefix_creates_nothing_else(
    client: TestClient, db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    user = await new_user(client)
    me = await whoami(client, user)
    assert (await client.get("/api/moderation/reports", headers=user)).status == 403
    polkadot_address = to_ss58(me["account_id"], 0)  # same account, another network's prefix
    users_before = await db.fetchval("SELECT count(*) FROM users")

    done = await asyncio.to_thread(
        _vilokanam, database_url, "grant", "moderator", polkadot_address, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert (await client.get("/api/moderation/reports", headers=user)).status == 200
    assert (
        await client.post("/api/categories", headers=user, json={"name": "not yet"})
    ).status == 403

    stranger = Keypair.create_from_mnemonic(Keypair.generate_mnemonic()).ss58_address
    missing = await asyncio.to_thread(
        _vilokanam, database_url, "grant", "admin", stranger, cwd=tmp_path
    )
    assert missing.returncode == 1 and "sign in" in missing.stderr
    bad = await asyncio.to_thread(
        _vilokanam, database_url, "grant", "admin", "0xnope", cwd=tmp_path
    )
    assert bad.returncode == 2
    assert await db.fetchval("SELECT count(*) FROM users") == users_before
