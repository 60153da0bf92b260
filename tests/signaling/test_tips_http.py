"""Issue 15 items 1-2 over HTTP: tips and Idempotency-Keys on money-moving requests.

Real PostgreSQL, Redis and dev chain; balances come from deposits to the escrow, credited by
the server's deposit watcher. The SIGKILL case is tests/vilokanam/test_tip_kill.py.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from billing.chain import ChainClient
from billing.reconcile import reconcile
from signaling.config import AppConfig
from signaling.http.idempotency import operation_id
from signaling.keys import BILLING
from tests.billing.support.chain_money import ROC
from tests.signaling.support.accounts import new_stream, sign_in, whoami
from tests.signaling.support.rows import new_video
from tests.signaling.support.tipping import (
    balance,
    deposit,
    key_headers,
    signed_in,
    tip_rows,
    until,
)
from tests.support.chain_app import chain_test_client
from vilokanam.devchain import DevChain

MAX_TIP = 3 * ROC
TIP = 12_345_679_001  # a fee (10 %) that rounds down: 1_234_567_900, creator 11_111_111_101
FEE = TIP // 10


@pytest.fixture
async def chain_app(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client: ChainClient, redis
) -> AsyncIterator[TestClient]:
    async with chain_test_client(
        app_config,
        own_database_url,
        dev_chain.url,
        chain_client,
        max_tip_planck=MAX_TIP,
        billing_workers=("settlement", "deposits"),
    ) as client:
        yield client


@pytest.fixture
async def people(
    chain_app: TestClient, dev_chain: DevChain, chain_client: ChainClient
) -> dict[str, dict]:
    """A creator with a stream, and a viewer with 2 ROC deposited."""
    client = chain_app
    _, creator = await signed_in(client, sign_in)
    assert (await client.patch("/api/me", headers=creator, json={"is_creator": True})).status == 200
    viewer_key, viewer = await signed_in(client, sign_in)
    await deposit(client, dev_chain, chain_client, viewer, viewer_key, 2 * ROC)
    return {
        "creator": creator,
        "viewer": viewer,
        "stream": await new_stream(client, creator),
        "creator_id": (await whoami(client, creator))["id"],
        "viewer_id": (await whoami(client, viewer))["id"],
    }


async def test_a_tip_moves_exactly_its_amount_once_per_key_and_reconciles(
    chain_app: TestClient, people: dict, own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    client, viewer = chain_app, people["viewer"]
    path = f"/api/streams/{people['stream']['id']}/tips"
    body = {"amount": str(TIP), "message": "great show!"}
    headers = key_headers(viewer, "tip-" + uuid.uuid4().hex)

    first = await client.post(path, headers=headers, json=body)
    again = await client.post(path, headers=headers, json=body)
    other = await client.post(path, headers=headers, json={**body, "amount": str(TIP + 1)})

    assert first.status == 201, await first.text()
    tip = await first.json()
    assert tip["amount"] == str(TIP) and tip["fee"] == str(FEE)
    assert tip["creator_amount"] == str(TIP - FEE) and tip["message"] == "great show!"
    assert tip["stream_id"] == people["stream"]["id"] and tip["created_at"]
    assert again.status == 201 and await again.json() == tip
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status == 422
    assert "different request" in (await other.json())["error"]["message"]
    assert await balance(client, viewer) == 2 * ROC - TIP  # once, not twice or thrice
    meter = client.app[BILLING].meter
    assert await meter.earnings(people["creator_id"]) == TIP - FEE

    viewer_id, creator_id = uuid.UUID(people["viewer_id"]), uuid.UUID(people["creator_id"])
    expected = [(tip["id"], viewer_id, creator_id, TIP, FEE)]
    assert await until(lambda: _settled(own_db, expected), 20)
    report = await reconcile(own_db, redis, redis_prefix, None)
    assert report.ok, report.text()

    # The creator sees tips apart from viewing, and in the CSV with their type; the viewer too.
    summary = await (await client.get("/api/creator/summary", headers=people["creator"])).json()
    assert summary["settled_by_kind"] == {
        "viewing": {"payments": 0, "earned": "0"},
        "tips": {"payments": 1, "earned": str(TIP - FEE)},
    }
    csv_text = await (
        await client.get("/api/creator/payments.csv", headers=people["creator"])
    ).text()
    [row] = list(csv.DictReader(io.StringIO(csv_text, newline="")))
    assert (row["payment_id"], row["type"], row["stream_id"], row["video_id"]) == (
        tip["id"],
        "tip",
        people["stream"]["id"],
        "",
    )
    assert (row["amount_planck"], row["fee_planck"]) == (str(TIP), str(FEE))
    sent = await (await client.get("/api/me/tips", headers=viewer)).json()
    assert [(t["id"], t["amount"], t["message"], t["stream"]["id"]) for t in sent["items"]] == [
        (tip["id"], str(TIP), "great show!", people["stream"]["id"])
    ]


async def _settled(db: asyncpg.Pool, expected: list) -> bool:
    return await tip_rows(db) == expected


async def test_a_video_tip_without_a_key_is_paid_once(
    chain_app: TestClient, people: dict, own_db: asyncpg.Pool
) -> None:
    client = chain_app
    video_id = await new_video(own_db, people["creator_id"])
    response = await client.post(
        f"/api/videos/{video_id}/tips", headers=people["viewer"], json={"amount": "5000"}
    )
    assert response.status == 201, await response.text()
    tip = await response.json()
    assert (tip["video_id"], tip["amount"], tip["fee"], tip["message"]) == (
        video_id,
        "5000",
        "500",
        "",
    )
    assert await balance(client, people["viewer"]) == 2 * ROC - 5000


async def test_refused_tips_move_and_store_nothing(
    chain_app: TestClient, people: dict, own_db: asyncpg.Pool
) -> None:
    client, viewer, creator = chain_app, people["viewer"], people["creator"]
    stream_path = f"/api/streams/{people['stream']['id']}/tips"
    deleted_video = await new_video(own_db, people["creator_id"])
    await own_db.execute(
        "UPDATE videos SET deleted_at = now() WHERE id = $1", uuid.UUID(deleted_video)
    )
    cases = [
        (stream_path, {}, {"amount": "5"}, 401, "sign in"),
        (stream_path, viewer, {"amount": str(2 * ROC + 1)}, 402, "balance"),
        (stream_path, viewer, {"amount": str(MAX_TIP + 1)}, 400, "at most"),
        (stream_path, creator, {"amount": "5"}, 400, "yourself"),
        (f"/api/streams/{uuid.uuid4()}/tips", viewer, {"amount": "5"}, 404, "no stream"),
        ("/api/streams/not-a-uuid/tips", viewer, {"amount": "5"}, 404, "no stream"),
        (f"/api/videos/{deleted_video}/tips", viewer, {"amount": "5"}, 404, "no video"),
        (stream_path, viewer, {"amount": "5", "message": "x" * 201}, 422, "message"),
        (stream_path, key_headers(viewer, "k" * 256), {"amount": "5"}, 400, "Idempotency-Key"),
    ]
    cases += [
        (stream_path, viewer, {"amount": amount}, 422, "amount")
        for amount in ("0", "-5", "1.5", "1e3", "abc", "", 5, None)
    ]
    cases.append((stream_path, viewer, {"amount": str(2**64)}, 400, "at most"))
    for path, headers, body, status, words in cases:
        response = await client.post(path, headers=headers, json=body)
        assert response.status == status, (body, await response.text())
        assert words in (await response.json())["error"]["message"], body

    assert await balance(client, viewer) == 2 * ROC
    assert (await client.app[BILLING].meter.totals()).debits == 0
    await asyncio.sleep(1.5)  # a settlement round
    assert await tip_rows(own_db) == []
    assert await own_db.fetchval("SELECT count(*) FROM tip_messages") == 0


async def test_concurrent_duplicates_move_money_once(chain_app: TestClient, people: dict) -> None:
    client, viewer = chain_app, people["viewer"]
    path = f"/api/streams/{people['stream']['id']}/tips"
    headers = key_headers(viewer, str(uuid.uuid4()))
    responses = await asyncio.gather(
        *(client.post(path, headers=headers, json={"amount": "7000"}) for _ in range(8))
    )
    statuses = sorted(r.status for r in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    ids = {(await r.json())["id"] for r in responses if r.status == 201}
    assert len(ids) == 1
    for response in responses:
        if response.status == 409:
            assert response.headers["Retry-After"] == "1"
    assert await balance(client, viewer) == 2 * ROC - 7000


async def test_a_withdrawal_retried_with_its_key_is_made_once(
    chain_app: TestClient, people: dict, own_db: asyncpg.Pool, redis, redis_prefix: str
) -> None:
    client, viewer = chain_app, people["viewer"]
    headers = key_headers(viewer, "withdraw " + uuid.uuid4().hex)
    body = {"amount": str(ROC // 2)}

    first = await client.post("/api/me/withdraw", headers=headers, json=body)
    again = await client.post("/api/me/withdraw", headers=headers, json=body)
    other = await client.post("/api/me/withdraw", headers=headers, json={"amount": str(ROC)})

    assert first.status == 202, await first.text()
    assert again.status == 202 and await again.json() == await first.json()
    assert other.status == 422
    payouts = await own_db.fetch("SELECT id, total FROM payouts WHERE kind = 'withdrawal'")
    assert [(str(p["id"]), int(p["total"])) for p in payouts] == [
        ((await first.json())["id"], ROC // 2)
    ]
    fee = int((await first.json())["fee"])
    assert await balance(client, viewer) == 2 * ROC - ROC // 2 - fee

    # As after a server killed before it kept the answer: the record is gone, the retry runs
    # again, and finds the withdrawal its key made (the payout id derives from the key).
    assert await redis.delete(*[k async for k in redis.scan_iter(f"{redis_prefix}idem-http:*")])
    rerun = await client.post("/api/me/withdraw", headers=headers, json=body)
    assert rerun.status == 202, await rerun.text()
    assert (await rerun.json())["id"] == (await first.json())["id"]
    assert await own_db.fetchval("SELECT count(*) FROM payouts") == 1
    assert await balance(client, viewer) == 2 * ROC - ROC // 2 - fee


async def test_a_duplicate_while_the_first_runs_is_409_and_moves_nothing(
    chain_app: TestClient, people: dict, own_database_url: str
) -> None:
    """The first request is held after the meter paid (the test holds its message row)."""
    client, viewer = chain_app, people["viewer"]
    path = f"/api/streams/{people['stream']['id']}/tips"
    key = str(uuid.uuid4())
    headers = key_headers(viewer, key)
    blocker = await asyncpg.connect(own_database_url)
    hold = blocker.transaction()
    await hold.start()
    tip_id = operation_id(uuid.UUID(people["viewer_id"]), key)
    await blocker.execute("INSERT INTO tip_messages (payment_id) VALUES ($1)", tip_id)
    first = asyncio.create_task(client.post(path, headers=headers, json={"amount": "9000"}))
    meter = client.app[BILLING].meter
    assert await until(lambda: _debited(meter, people["viewer_id"], 9000), 10)

    duplicate = await client.post(path, headers=headers, json={"amount": "9000"})
    assert duplicate.status == 409 and duplicate.headers["Retry-After"] == "1"
    assert "still being processed" in (await duplicate.json())["error"]["message"]
    await hold.rollback()
    await blocker.close()
    answered = await first
    assert answered.status == 201 and (await answered.json())["id"] == str(tip_id)
    replay = await client.post(path, headers=headers, json={"amount": "9000"})
    assert replay.status == 201 and (await replay.json())["id"] == str(tip_id)
    assert await balance(client, viewer) == 2 * ROC - 9000


async def _debited(meter, user_id: str, amount: int) -> bool:  # type: ignore[no-untyped-def]
    return await meter.balance(user_id) == 2 * ROC - amount
