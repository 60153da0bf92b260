"""Paid viewing over real WHIP/WHEP: admission (402), per-second charges, cut-off at zero."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from signaling.config import AppConfig
from signaling.keys import LIVE, PG
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.metering import meter
from tests.signaling.support.sockets import connect, next_of, token_of
from tests.signaling.support.webrtc_clients import (
    PRICE_HEADER,
    stream_price,
    viewer_offer,
    whep,
    whep_request,
    whip,
)
from tests.support.rtc_peers import accept_answer

pytestmark = pytest.mark.usefixtures("loopback")

PRICE = 1000  # planck per second


async def user_id(client: TestClient, headers: dict) -> str:
    return (await (await client.get("/api/me", headers=headers)).json())["id"]


async def test_view_without_balance_is_refused_with_402(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator, price=str(PRICE))
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer_headers = await new_user(client)
    await meter(client).credit(await user_id(client, viewer_headers), 4 * PRICE, "almost")
    viewer = await viewer_offer()
    response = await whep_request(
        client, stream["id"], {**viewer_headers, PRICE_HEADER: str(PRICE)}, viewer
    )
    assert response.status == 402
    assert "balance" in (await response.json())["error"]["message"]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid", stream["id"]
        )
        == 0
    )
    await viewer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def test_viewer_pays_per_delivered_second_and_is_cut_at_zero(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator, price=str(PRICE))
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer_headers = await new_user(client)
    viewer_id = await user_id(client, viewer_headers)
    await meter(client).credit(viewer_id, 7 * PRICE, "seven seconds")
    socket = await connect(client, stream["id"], viewer_headers)  # what the watch page hears
    viewer, _ = await whep(client, stream["id"], viewer_headers)
    updates, cut_at = [], None
    while cut_at is None or updates[-1][0] < 7:  # the last seconds may be charged after the cut
        message = await next_of(socket, "balance", "cut", within=20)
        if message["type"] == "cut":
            assert message["reason"] == "balance_exhausted"
            cut_at = time.time()
        else:
            updates.append((message["seconds_watched"], int(message["balance"])))
    await asyncio.wait_for(viewer.ended.wait(), 5)  # the server ended its media
    # Live, as acknowledged (a receiver report may cover two seconds), down to exactly zero.
    assert [n for n, _ in updates] == sorted(set(n for n, _ in updates))
    assert updates[-1] == (7, 0) and all(left == (7 - n) * PRICE for n, left in updates)
    await socket.close()
    assert await meter(client).balance(viewer_id) == 0
    view = await db.fetchrow("SELECT id FROM stream_viewers WHERE viewer_id = $1::uuid", viewer_id)
    assert await meter(client).view_ticks(str(view["id"])) == 7

    async def settled() -> asyncpg.Record:
        return await db.fetchrow(
            "SELECT total_ticks, paid_amount, is_active, last_tick_time FROM stream_viewers "
            "WHERE id = $1",
            view["id"],
        )

    for _ in range(100):
        row = await settled()
        if row["total_ticks"] == 7:
            break
        await asyncio.sleep(0.1)
    assert (row["total_ticks"], int(row["paid_amount"]), row["is_active"]) == (7, 7 * PRICE, False)
    # Invariant 4: cut within 2 s of the second that emptied the balance.
    assert cut_at - row["last_tick_time"].timestamp() < 3.0
    fee = PRICE * 1000 // 10_000
    earned = await db.fetchval(
        "SELECT total_earnings FROM creator_earnings WHERE creator_id = $1::uuid",
        (await (await client.get("/api/me", headers=creator)).json())["id"],
    )
    assert int(earned) == 7 * (PRICE - fee)
    await viewer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def test_free_stream_needs_no_balance_and_counts_seconds(
    client: TestClient, db: asyncpg.Pool
) -> None:
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator, price="0")
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, location = await whep(client, stream["id"], await new_user(client))
    await viewer.wait_frames(10)
    await asyncio.sleep(2.5)
    await client.delete(location)
    for _ in range(50):
        ticks = await db.fetchval(
            "SELECT total_ticks FROM streams WHERE id = $1::uuid", stream["id"]
        )
        if ticks >= 2:
            break
        await asyncio.sleep(0.1)
    assert ticks >= 2
    assert (
        await db.fetchval(
            "SELECT count(*) FROM payments WHERE to_user_id = $1::uuid",
            (await (await client.get("/api/me", headers=creator)).json())["id"],
        )
        == 0
    )
    await viewer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def test_balance_endpoint_and_withdraw_validation(client: TestClient) -> None:
    headers = await new_user(client)
    await meter(client).credit(await user_id(client, headers), 12345, "seed")
    balance = await (await client.get("/api/me/balance", headers=headers)).json()
    assert balance == {"available": "12345", "reserved": "0"}
    assert (await client.get("/api/me/balance")).status == 401
    # No chain on this test server: withdrawals and billing info say so instead of failing.
    assert (await client.get("/api/billing/info")).status == 503
    bad = await client.post("/api/me/withdraw", headers=headers, json={"amount": "-5"})
    assert bad.status == 422


async def test_whep_starts_only_at_the_price_the_viewer_accepted(
    client: TestClient, db: asyncpg.Pool
) -> None:
    """Issue 10 item 6: a price raised while the viewer waited does not drain them."""
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator, price=str(PRICE))
    seen = await stream_price(client, stream["id"])  # what the waiting viewer's page shows
    raised = await client.patch(
        f"/api/streams/{stream['id']}", headers=creator, json={"price_per_second": str(5 * PRICE)}
    )
    assert raised.status == 200  # offline: the creator may change the price
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer_headers = await new_user(client)
    viewer_id = await user_id(client, viewer_headers)
    await meter(client).credit(viewer_id, 100 * PRICE, "funds")
    refusals = []
    for price in ({}, {PRICE_HEADER: seen}, {PRICE_HEADER: "abc"}):
        viewer = await viewer_offer()
        response = await whep_request(client, stream["id"], {**viewer_headers, **price}, viewer)
        refusals.append(
            (
                response.status,
                response.headers.get(PRICE_HEADER),
                (await response.json())["error"]["price"],
            )
        )
        await viewer.close()
    assert refusals == [(412, str(5 * PRICE), str(5 * PRICE))] * 3
    # Nothing started: no view row, no media session, no charge.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid", stream["id"]
        )
        == 0
    )
    assert client.app[LIVE].viewer_count(uuid.UUID(stream["id"])) == 0
    await asyncio.sleep(1.2)
    assert await meter(client).balance(viewer_id) == 100 * PRICE

    # Accepted (here as the query parameter a header-less player can send): charged that price.
    viewer = await viewer_offer()
    response = await client.post(
        f"/whep/{stream['id']}?price={5 * PRICE}",
        data=viewer.pc.localDescription.sdp,
        headers={**viewer_headers, "Content-Type": "application/sdp"},
    )
    assert response.status == 201, await response.text()
    await accept_answer(viewer.pc, await response.text())
    await viewer.wait_frames(10)
    view_id = await db.fetchval(
        "SELECT id FROM stream_viewers WHERE viewer_id = $1::uuid", viewer_id
    )
    for _ in range(50):
        if await meter(client).view_ticks(str(view_id)) >= 2:
            break
        await asyncio.sleep(0.1)
    await client.delete(response.headers["Location"])
    await asyncio.sleep(1.5)  # the last delivered second is charged by a later tick
    ticks = await meter(client).view_ticks(str(view_id))
    assert ticks >= 2
    assert await meter(client).balance(viewer_id) == (100 - 5 * ticks) * PRICE
    await viewer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


def view_of(client: TestClient, stream_id: str, location: str) -> str:
    """The stream_viewers id behind a WHEP session URL."""
    session = client.app[LIVE].session("whep", uuid.UUID(stream_id), location.rsplit("/", 1)[1])
    assert session is not None and session.view is not None
    return str(session.view.view_id)


async def test_views_deleted_between_ticks_are_charged_for_the_seconds_they_received(
    client: TestClient,
) -> None:
    """Issue 10 item 4: the second a view ends in is charged by a later tick, once."""
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator, price=str(PRICE))
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer_headers = await new_user(client)
    viewer_id = await user_id(client, viewer_headers)
    await meter(client).credit(viewer_id, 100 * PRICE, "funds")
    views = []
    for _ in range(3):
        viewer, location = await whep(client, stream["id"], viewer_headers)
        view_id = view_of(client, stream["id"], location)
        await viewer.wait_frames(5)
        await asyncio.sleep((1.3 - time.time() % 1) % 1)  # leave early in a second
        left_in = int(time.time())
        assert (await client.delete(location)).status == 200
        views.append((viewer, view_id, left_in))
    # Like a browser tab, each viewer's peer connection stays up until the server closes it,
    # once the viewer's last receiver report acknowledged what it was sent.
    for viewer, _, _ in views:
        await asyncio.wait_for(viewer.ended.wait(), 6)
    await asyncio.sleep(1.5)  # the tick after the last one ended
    charged = 0
    for viewer, view_id, left_in in views:
        last, ticks = await meter(client).view_state(view_id)
        assert last == left_in  # the second it was deleted in was charged
        assert 1 <= ticks <= left_in - int(time.time() - viewer.started) + 1 + 10
        charged += ticks
        await viewer.close()
    assert await meter(client).balance(viewer_id) == (100 - charged) * PRICE
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def test_frozen_viewer_is_cut_and_not_charged_past_the_window(
    client: TestClient, app_config: AppConfig
) -> None:
    """Issue 10 item 5: a SIGSTOPped viewer process stops acknowledging: it is cut, unpaid."""
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator, price=str(PRICE))
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer_headers = await new_user(client)
    viewer_id = await user_id(client, viewer_headers)
    await meter(client).credit(viewer_id, 100 * PRICE, "funds")
    socket = await connect(client, stream["id"], viewer_headers)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.signaling.support.viewer_process",
        str(client.make_url("")).rstrip("/"),
        stream["id"],
        token_of(viewer_headers),
        str(PRICE),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(30):
            while not (await process.stdout.readline()).startswith(b"frames 30"):
                pass
        for _ in range(2):  # charged while it acknowledges
            assert (await next_of(socket, "balance", "cut"))["type"] == "balance"
        process.send_signal(signal.SIGSTOP)
        frozen_at = time.time()
        while (message := await next_of(socket, "balance", "cut", within=15))["type"] != "cut":
            pass
        assert message["reason"] == "silent"
        assert time.time() - frozen_at <= app_config.rtc.viewer_ack_window_s + 2.5
        assert client.app[LIVE].viewer_count(uuid.UUID(stream["id"])) == 0
        await asyncio.sleep(app_config.rtc.viewer_ack_window_s + 1.5)  # its drain and a tick
        [view] = [s for s in await db_views(client, viewer_id)]
        last, ticks = await meter(client).view_state(view)
        assert ticks >= 2 and last <= int(frozen_at)  # nothing after it froze
        assert await meter(client).balance(viewer_id) == (100 - ticks) * PRICE
    finally:
        process.kill()
        await process.wait()
        await socket.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def db_views(client: TestClient, viewer_id: str) -> list[str]:
    rows = await client.app[PG].fetch(
        "SELECT id FROM stream_viewers WHERE viewer_id = $1::uuid", viewer_id
    )
    return [str(row["id"]) for row in rows]


async def test_views_are_charged_their_last_second_when_the_stream_ends(
    client: TestClient,
) -> None:
    """Item 4's class: the publisher leaving ends every view between ticks, still charged."""
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator, price=str(PRICE))
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    watchers = []
    for _ in range(2):
        headers = await new_user(client)
        viewer_id = await user_id(client, headers)
        await meter(client).credit(viewer_id, 100 * PRICE, f"funds-{viewer_id}")
        viewer, location = await whep(client, stream["id"], headers)
        watchers.append((viewer, viewer_id, view_of(client, stream["id"], location)))
    for viewer, _, _ in watchers:
        await viewer.wait_frames(10)
    await asyncio.sleep((1.3 - time.time() % 1) % 1)  # end early in a second
    ended_in = int(time.time())
    assert (await client.delete(broadcast.location)).status == 200
    for viewer, _, _ in watchers:
        await asyncio.wait_for(viewer.ended.wait(), 6)
    await asyncio.sleep(1.5)  # the tick after the last view closed
    for viewer, viewer_id, view_id in watchers:
        last, ticks = await meter(client).view_state(view_id)
        assert last == ended_in and ticks >= 1
        assert await meter(client).balance(viewer_id) == (100 - ticks) * PRICE
        await viewer.close()
    await broadcast.pc.close()
