"""The creator dashboard and viewer /me API: who may call, money split, lists, charts, CSV.

Money moves through the real meter (Lua in Redis) and the real settlement consumer; payouts are
created by the real Payouts code, and only their chain progress (which needs a chain) is written
as the payout worker would write it. The app runs without billing workers so each step is ours.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from billing.meter import Charge
from billing.payouts import Payouts
from billing.settlement import Settlement
from signaling.api.streams import queries as streams_db
from signaling.config import AppConfig
from signaling.keys import BILLING, REDIS
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.metering import meter
from tests.signaling.support.sockets import Socket, creator_socket, next_of
from tests.signaling.support.webrtc_clients import Broadcast, whep, whip
from tests.support.configs import configured
from vilokanam.wiring import create_app

PRICE = 1_000_000_000  # planck per second; the creator keeps 90 % (fee 1000 bps)
NET = PRICE - PRICE // 10
PAID_SECONDS = 6  # what a viewer's balance pays for in the live tests (admission needs 5)

CREATOR_PATHS = [
    "/api/creator/summary",
    "/api/creator/live",
    "/api/creator/streams",
    "/api/creator/payouts",
    "/api/creator/earnings?range=1h",
    "/api/creator/viewers?range=1h",
    "/api/creator/payments.csv",
    "/api/creator/videos",
]
VIEWER_PATHS = ["/api/me/deposits", "/api/me/spending", "/api/me/withdrawals"]


@pytest.fixture
async def quiet(
    app_config: AppConfig, own_database_url: str, redis: object
) -> AsyncIterator[TestClient]:
    """The app on a database of its own, with no settlement running unless a test runs it."""
    config = configured(app_config, database_url=own_database_url, billing_workers=())
    async with TestClient(TestServer(create_app(config))) as client:
        yield client


@dataclasses.dataclass
class People:
    creator: dict[str, str]
    creator_id: uuid.UUID
    viewer: dict[str, str]
    viewer_id: uuid.UUID


async def _id(client: TestClient, headers: dict[str, str]) -> uuid.UUID:
    return uuid.UUID((await (await client.get("/api/me", headers=headers)).json())["id"])


@pytest.fixture
async def people(quiet: TestClient) -> People:
    creator = await new_user(quiet, creator=True)
    viewer = await new_user(quiet)
    return People(creator, await _id(quiet, creator), viewer, await _id(quiet, viewer))


async def watch(
    client: TestClient,
    own_db: asyncpg.Pool,
    stream: dict,
    viewer_id: uuid.UUID,
    seconds: int,
    first_second: int = 1_700_000_000,
) -> uuid.UUID:
    """A view of `seconds` charged viewer-seconds (credited first, so each is paid)."""
    meter = client.app[BILLING].meter
    price = int(stream["price_per_second"])
    view_id = await streams_db.start_view(own_db, uuid.UUID(stream["id"]), viewer_id)
    await meter.credit(str(viewer_id), seconds * price, f"test-deposit:{view_id}")
    results = await meter.charge(
        [
            Charge(
                str(view_id),
                str(viewer_id),
                stream["id"],
                stream["creator"]["id"],
                first_second + i,
                price,
            )
            for i in range(seconds)
        ]
    )
    assert {r.status for r in results} == {"charged"}
    return view_id


async def settle(client: TestClient, own_db: asyncpg.Pool) -> None:
    settlement = Settlement(client.app[REDIS], own_db, client.app[BILLING].meter.prefix)
    await settlement.ensure_group()
    while await settlement.settle_new(block_ms=None):
        pass


async def get(client: TestClient, path: str, headers: dict[str, str]) -> dict:
    response = await client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


# --- who may call --------------------------------------------------------------------------


@pytest.mark.parametrize("path", CREATOR_PATHS + VIEWER_PATHS)
async def test_signed_out_callers_get_401(quiet: TestClient, path: str) -> None:
    response = await quiet.get(path)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", CREATOR_PATHS)
async def test_viewers_who_are_not_creators_get_403(
    quiet: TestClient, people: People, path: str
) -> None:
    response = await quiet.get(path, headers=people.viewer)
    assert response.status == 403
    assert "creators" in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/creator/earnings?range=2h",
        "/api/creator/viewers?range=forever",
        "/api/creator/viewers?range=1h&stream_id=nope",
        "/api/creator/payments.csv?range=1y",
        "/api/creator/streams?limit=0",
        "/api/creator/payouts?limit=101",
        "/api/creator/streams?cursor=%%%",
        "/api/creator/videos?cursor=%%%",
        "/api/creator/videos?limit=0",
    ],
)
async def test_bad_parameters_are_400(quiet: TestClient, people: People, path: str) -> None:
    response = await quiet.get(path, headers=people.creator)
    assert response.status == 400, await response.text()
    assert (await response.json())["error"]["message"]


async def test_viewer_chart_of_someone_elses_stream_is_404(
    quiet: TestClient, people: People
) -> None:
    other = await new_user(quiet, creator=True)
    theirs = await new_stream(quiet, other)
    response = await quiet.get(
        f"/api/creator/viewers?range=1h&stream_id={theirs['id']}", headers=people.creator
    )
    assert response.status == 404


# --- money ---------------------------------------------------------------------------------


async def test_split_follows_money_from_redis_to_postgres_to_chain(
    quiet: TestClient, own_db: asyncpg.Pool, people: People
) -> None:
    stream = await new_stream(quiet, people.creator, price=str(PRICE))
    await watch(quiet, own_db, stream, people.viewer_id, seconds=7)

    split = (await get(quiet, "/api/creator/summary", people.creator))["earnings"]
    assert split["pending_redis"] == split["total"] == str(7 * NET)
    assert split["settled"] == split["finalized"] == "0"

    await settle(quiet, own_db)
    summary = await get(quiet, "/api/creator/summary", people.creator)
    assert summary["earnings"] == {
        "total": str(7 * NET),
        "pending_redis": "0",
        "settled": str(7 * NET),
        "awaiting_payout": str(7 * NET),
        "sending": "0",
        "in_block": "0",
        "finalized": "0",
    }
    assert summary["totals"]["total_earnings"] == str(7 * NET)
    assert summary["totals"]["streams"] == 1

    payouts = Payouts(None, own_db, quiet.app[BILLING].meter, None, threshold=1)  # type: ignore[arg-type]
    payout_id = await payouts.create_creator_payout()
    assert payout_id is not None
    split = (await get(quiet, "/api/creator/summary", people.creator))["earnings"]
    assert (split["awaiting_payout"], split["sending"]) == ("0", str(7 * NET))

    # What the payout worker records once the chain has it in a block (with the fee the escrow
    # paid for it), then finalized.
    tx_hash, chain_fee = "0x" + "ab" * 32, 7 * NET // 300
    await own_db.execute(
        """UPDATE payouts SET status = 'in_block', extrinsic_hex = '0x00', extrinsic_hash = $2,
                  block_number = 42, block_hash = $3, chain_fee = $4 WHERE id = $1""",
        payout_id,
        tx_hash,
        "0x" + "cd" * 32,
        chain_fee,
    )
    split = (await get(quiet, "/api/creator/summary", people.creator))["earnings"]
    assert (split["sending"], split["in_block"]) == ("0", str(7 * NET))
    await own_db.execute(
        "UPDATE payouts SET status = 'finalized', finalized_at = now() WHERE id = $1", payout_id
    )
    split = (await get(quiet, "/api/creator/summary", people.creator))["earnings"]
    assert (split["in_block"], split["finalized"], split["total"]) == (
        "0",
        str(7 * NET),
        str(7 * NET),
    )

    [payout] = (await get(quiet, "/api/creator/payouts", people.creator))["items"]
    assert payout["status"] == "finalized" and payout["extrinsic_hash"] == tx_hash
    assert payout["block_number"] == 42 and payout["amount"] == str(7 * NET)
    assert payout["finalized_at"].endswith("Z")
    assert payout["fee"] == str(chain_fee)
    fees = (await get(quiet, "/api/creator/summary", people.creator))["payout_fees"]
    assert {
        k: fees[k] for k in ("payouts", "paid", "fees", "fee_per_payout", "fee_bps", "paid_by")
    } == {
        "payouts": 1,
        "paid": str(7 * NET),
        "fees": str(chain_fee),
        "fee_per_payout": str(chain_fee),
        "fee_bps": 34,
        "paid_by": "platform",
    }


async def test_live_counters_grow_with_each_charged_second(
    quiet: TestClient, own_db: asyncpg.Pool, people: People
) -> None:
    stream = await new_stream(quiet, people.creator, price=str(PRICE))
    await new_stream(quiet, people.creator, title="Not live")
    before = await get(quiet, "/api/creator/live", people.creator)
    assert before["streams"] == [] and before["earnings"]["total"] == "0"

    session = await streams_db.go_live(own_db, uuid.UUID(stream["id"]), "http://test")
    await streams_db.set_viewer_count(own_db, uuid.UUID(stream["id"]), session, 1)
    await watch(quiet, own_db, stream, people.viewer_id, seconds=3)
    after = await get(quiet, "/api/creator/live", people.creator)
    assert [(s["id"], s["ticks"], s["viewers"]) for s in after["streams"]] == [(stream["id"], 3, 1)]
    assert after["earnings"]["pending_redis"] == str(3 * NET)
    assert after["at_ms"] >= before["at_ms"]


# --- live earnings over the /ws/creator socket --------------------------------------------


async def go_live_with_a_payer(
    client: TestClient, stream: dict, viewer: dict[str, str], viewer_id: uuid.UUID
) -> tuple[Broadcast, object, str]:
    """Real WHIP into `stream` and a real WHEP viewer whose balance pays PAID_SECONDS."""
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    await meter(client).credit(
        str(viewer_id), PAID_SECONDS * int(stream["price_per_second"]), "test-deposit"
    )
    watcher, location = await whep(client, stream["id"], viewer)
    return broadcast, watcher, location


async def end(client: TestClient, broadcast: Broadcast, watcher: object, location: str) -> None:
    await watcher.close()  # type: ignore[attr-defined]
    await client.delete(location)
    await client.delete(broadcast.location)
    await broadcast.pc.close()  # type: ignore[attr-defined]


async def earnings_until(ws: Socket, done: object) -> list[dict]:
    """Every earnings message up to and including the first one `done(message)` accepts."""
    messages = [await next_of(ws, "earnings", within=15)]
    while not done(messages[-1]):  # type: ignore[operator]
        messages.append(await next_of(ws, "earnings", within=15))
    return messages


async def nothing_more(ws: Socket, within: float = 2.5) -> None:
    with pytest.raises(TimeoutError):
        message = await ws.receive_json(timeout=within)
        pytest.fail(f"unexpected message {message}")


@pytest.mark.usefixtures("loopback")
async def test_creator_socket_pushes_each_paid_second_while_the_stream_is_live(
    quiet: TestClient, people: People
) -> None:
    stream = await new_stream(quiet, people.creator, price=str(PRICE))
    tab, other_tab = [await creator_socket(quiet, people.creator) for _ in range(2)]
    for ws in (tab, other_tab):
        greeting = await next_of(ws, "earnings")
        assert (greeting["streams"], greeting["earnings"]["total"]) == ([], "0")
    broadcast, watcher, location = await go_live_with_a_payer(
        quiet, stream, people.viewer, people.viewer_id
    )
    try:
        # Until the balance is spent: PAID_SECONDS charged and credited, then the viewer is cut.
        messages = await earnings_until(
            tab,
            lambda m: (
                m["streams"][0]["ticks"] == PAID_SECONDS
                and m["earnings"]["total"] == str(PAID_SECONDS * NET)
            ),
        )
        assert {s["id"] for m in messages for s in m["streams"]} == {stream["id"]}
        totals = [int(m["earnings"]["total"]) for m in messages]
        assert totals == sorted(totals) and totals[0] < totals[-1]
        # "This second" adds up to the counters, to the planck, and shows a paid second.
        later = messages[1:]
        assert sum(m["seconds_this_second"] for m in later) == (
            messages[-1]["streams"][0]["ticks"] - messages[0]["streams"][0]["ticks"]
        )
        assert sum(int(m["earned_this_second"]) for m in later) == totals[-1] - totals[0]
        assert any(
            m["seconds_this_second"] == 1 and m["earned_this_second"] == str(NET) for m in later
        )
        assert all(m["interval_ms"] > 0 for m in later)
        # One sample per creator and second, whatever the number of tabs.
        assert (await next_of(other_tab, "earnings"))["at_ms"] == messages[0]["at_ms"]
        assert await next_of(tab, "earnings")  # still live: still pushed, nothing to earn
    finally:
        await end(quiet, broadcast, watcher, location)
    ended = await earnings_until(tab, lambda m: m["streams"] == [])
    assert ended[-1]["earnings"]["total"] == str(PAID_SECONDS * NET)
    await nothing_more(tab)  # nothing live: nothing pushed


@pytest.mark.usefixtures("loopback")
async def test_creator_socket_carries_nothing_of_other_creators_streams(
    quiet: TestClient, people: People
) -> None:
    paid = await new_stream(quiet, people.creator, price=str(PRICE), title="Paid")
    bystander = await new_user(quiet, creator=True)
    their_own = await new_stream(quiet, bystander, title="Nobody watches")
    idle = await new_user(quiet, creator=True)
    earner, watcher_ws, idle_ws = [
        await creator_socket(quiet, headers) for headers in (people.creator, bystander, idle)
    ]
    for ws in (earner, watcher_ws, idle_ws):
        await next_of(ws, "earnings")
    quiet_broadcast = await whip(quiet, their_own["id"], their_own["stream_key"])
    broadcast, watcher, location = await go_live_with_a_payer(
        quiet, paid, people.viewer, people.viewer_id
    )
    try:
        await earnings_until(earner, lambda m: int(m["earnings"]["total"]) >= 3 * NET)
        seen = []
        with pytest.raises(TimeoutError):
            while True:
                seen.append(await watcher_ws.receive_json(timeout=0.5))
        assert len(seen) >= 2
        assert {s["id"] for m in seen for s in m["streams"]} == {their_own["id"]}
        assert {(m["earnings"]["total"], m["earned_this_second"]) for m in seen} <= {
            ("0", "0"),
            ("0", None),
        }
        await nothing_more(idle_ws, within=0.5)  # no live stream of theirs: only the greeting
    finally:
        await end(quiet, broadcast, watcher, location)
        await quiet.delete(quiet_broadcast.location)
        await quiet_broadcast.pc.close()  # type: ignore[attr-defined]


async def test_stream_table_has_peak_ticks_earnings_recording_and_pages(
    quiet: TestClient, own_db: asyncpg.Pool, people: People
) -> None:
    paid = await new_stream(quiet, people.creator, price=str(PRICE), title="Paid")
    await new_stream(quiet, people.creator, title="Free")
    newest = await new_stream(quiet, people.creator, title="Newest")
    session = await streams_db.go_live(own_db, uuid.UUID(paid["id"]), "http://test")
    await streams_db.set_viewer_count(own_db, uuid.UUID(paid["id"]), session, 3)
    await streams_db.set_viewer_count(own_db, uuid.UUID(paid["id"]), session, 1)
    await watch(quiet, own_db, paid, people.viewer_id, seconds=4)
    await settle(quiet, own_db)
    await own_db.execute(
        "UPDATE streams SET recording_url = '/media/videos/x/index.m3u8' WHERE id = $1",
        uuid.UUID(paid["id"]),
    )

    first = await get(quiet, "/api/creator/streams?limit=2", people.creator)
    assert [s["id"] for s in first["items"]][0] == newest["id"]
    assert first["next_cursor"]
    second = await get(
        quiet, f"/api/creator/streams?limit=2&cursor={first['next_cursor']}", people.creator
    )
    assert second["next_cursor"] is None
    rows = {s["title"]: s for s in first["items"] + second["items"]}
    assert len(rows) == 3
    assert rows["Paid"]["viewer_peak"] == 3
    assert rows["Paid"]["total_ticks"] == 4
    assert rows["Paid"]["earnings"] == str(4 * NET)
    assert rows["Paid"]["recording_url"] == "/media/videos/x/index.m3u8"
    assert (rows["Free"]["earnings"], rows["Free"]["viewer_peak"]) == ("0", 0)


# --- charts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bucket_s", "buckets"),
    [
        ("1h", 60, 60),
        ("24h", 1800, 48),
        ("7d", 6 * 3600, 28),
        ("30d", 86400, 30),
    ],
)
async def test_earnings_chart_buckets_hold_every_settled_planck(
    quiet: TestClient, own_db: asyncpg.Pool, people: People, name: str, bucket_s: int, buckets: int
) -> None:
    stream = await new_stream(quiet, people.creator, price=str(PRICE))
    await watch(quiet, own_db, stream, people.viewer_id, seconds=5)
    await settle(quiet, own_db)
    chart = await get(quiet, f"/api/creator/earnings?range={name}", people.creator)
    assert chart["range"] == name and chart["bucket_s"] == bucket_s
    # The first bucket is the one the range starts in, so there may be one more.
    assert buckets <= len(chart["points"]) <= buckets + 1
    assert sum(int(p["value"]) for p in chart["points"]) == 5 * NET
    assert int(chart["points"][-1]["value"]) == 5 * NET  # settled just now: the last bucket


async def test_viewer_chart_takes_each_streams_peak_per_bucket(
    quiet: TestClient, own_db: asyncpg.Pool, people: People
) -> None:
    one = await new_stream(quiet, people.creator, title="one")
    two = await new_stream(quiet, people.creator, title="two")
    # Samples inside one minute five minutes ago, one a minute later, one outside the range.
    samples = [(one, 2, 0), (one, 4, 20), (two, 5, 40), (two, 1, 60), (one, 7, 2 * 3600)]
    for stream, count, seconds_later in samples:
        await own_db.execute(
            """INSERT INTO stream_analytics (stream_id, "timestamp", viewer_count)
               VALUES ($1, date_trunc('minute', now()) - interval '5 minutes'
                           + make_interval(secs => $3) - make_interval(hours => $4), $2)""",
            uuid.UUID(stream["id"]),
            count,
            seconds_later % 3600,
            seconds_later // 3600,
        )

    both = await get(quiet, "/api/creator/viewers?range=1h", people.creator)
    assert both["bucket_s"] == 60
    values = [p["value"] for p in both["points"]]
    assert values[-7:] == [0, 9, 1, 0, 0, 0, 0]  # peak 4 of one + peak 5 of two; then 1
    just_one = await get(
        quiet, f"/api/creator/viewers?range=1h&stream_id={one['id']}", people.creator
    )
    assert [p["value"] for p in just_one["points"]][-6:] == [4, 0, 0, 0, 0, 0]


# --- CSV -----------------------------------------------------------------------------------


async def test_payments_csv_quotes_text_and_adds_up(
    quiet: TestClient, own_db: asyncpg.Pool, people: People
) -> None:
    title = '=HYPERLINK("x"), the "best"\nstream'
    stream = await new_stream(quiet, people.creator, price=str(PRICE), title=title)
    await watch(quiet, own_db, stream, people.viewer_id, seconds=3)
    await watch(quiet, own_db, stream, people.viewer_id, seconds=2, first_second=1_700_000_100)
    await settle(quiet, own_db)

    response = await quiet.get("/api/creator/payments.csv", headers=people.creator)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    text = await response.text()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 2
    assert {row["stream_title"] for row in rows} == {"'" + title}  # defused, kept whole
    assert sum(int(row["creator_amount_planck"]) for row in rows) == 5 * NET
    for row in rows:
        assert int(row["amount_planck"]) == int(row["creator_amount_planck"]) + int(
            row["fee_planck"]
        )
        assert row["amount_planck"].isdigit() and row["stream_id"] == stream["id"]
        assert row["created_at"].endswith("Z") and row["batch_id"]
    viewer = await (await quiet.get("/api/me", headers=people.viewer)).json()
    assert {row["viewer_account"] for row in rows} == {viewer["account_id"]}

    recent = await quiet.get("/api/creator/payments.csv?range=1h", headers=people.creator)
    assert len(list(csv.DictReader(io.StringIO(await recent.text(), newline="")))) == 2


async def test_payments_csv_of_a_new_creator_is_just_the_header(
    quiet: TestClient, people: People
) -> None:
    text = await (await quiet.get("/api/creator/payments.csv", headers=people.creator)).text()
    assert text == (
        "payment_id,created_at,type,stream_id,stream_title,video_id,viewer_account,"
        "amount_planck,fee_planck,creator_amount_planck,status,batch_id\r\n"
    )


# --- viewer --------------------------------------------------------------------------------


async def test_spending_is_grouped_by_stream(
    quiet: TestClient, own_db: asyncpg.Pool, people: People
) -> None:
    first = await new_stream(quiet, people.creator, price=str(PRICE), title="first")
    second = await new_stream(quiet, people.creator, price=str(2 * PRICE), title="second")
    await watch(quiet, own_db, first, people.viewer_id, seconds=3)
    await watch(quiet, own_db, first, people.viewer_id, seconds=2, first_second=1_700_000_050)
    await settle(quiet, own_db)
    await watch(quiet, own_db, second, people.viewer_id, seconds=4)
    await settle(quiet, own_db)

    page = await get(quiet, "/api/me/spending?limit=1", people.viewer)
    [latest] = page["items"]
    assert latest["stream"]["title"] == "second"
    assert (latest["amount"], latest["seconds"], latest["views"]) == (str(8 * PRICE), 4, 1)
    rest = await get(quiet, f"/api/me/spending?limit=1&cursor={page['next_cursor']}", people.viewer)
    [earlier] = rest["items"]
    assert (earlier["stream"]["title"], earlier["amount"]) == ("first", str(5 * PRICE))
    assert (earlier["seconds"], earlier["views"]) == (5, 2)
    assert (await get(quiet, "/api/me/spending", people.creator))["items"] == []


async def test_deposits_and_withdrawals_are_the_viewers_own(
    quiet: TestClient, own_db: asyncpg.Pool, people: People
) -> None:
    for block in (10, 11, 12):
        await own_db.execute(
            """INSERT INTO deposits (user_id, from_account, amount, block_number, block_hash,
                                     event_index, credited_at)
               VALUES ($1, 'someone', $2, $3, $4, 0, now())""",
            people.viewer_id,
            block * PRICE,
            block,
            "0x" + f"{block:02x}" * 32,
        )
    await quiet.app[BILLING].meter.credit(str(people.viewer_id), 5 * PRICE, "test-withdraw")
    payouts = Payouts(None, own_db, quiet.app[BILLING].meter, None, threshold=1)  # type: ignore[arg-type]
    fee = PRICE // 7  # the quote the viewer accepted (no chain here)
    await payouts.create_withdrawal(people.viewer_id, "dest-address", 2 * PRICE, fee)

    page = await get(quiet, "/api/me/deposits?limit=2", people.viewer)
    more = await get(quiet, f"/api/me/deposits?limit=2&cursor={page['next_cursor']}", people.viewer)
    deposits = page["items"] + more["items"]
    assert [d["block_number"] for d in deposits] == [12, 11, 10]
    assert [d["amount"] for d in deposits] == [str(b * PRICE) for b in (12, 11, 10)]
    assert all(d["credited"] for d in deposits) and more["next_cursor"] is None

    [withdrawal] = (await get(quiet, "/api/me/withdrawals", people.viewer))["items"]
    assert (withdrawal["status"], withdrawal["amount"], withdrawal["to"], withdrawal["fee"]) == (
        "created",
        str(2 * PRICE),
        "dest-address",
        str(fee),
    )
    balance = await get(quiet, "/api/me/balance", people.viewer)
    assert balance == {"available": str(3 * PRICE - fee), "reserved": str(2 * PRICE + fee)}
    assert (await get(quiet, "/api/me/deposits", people.creator))["items"] == []
    assert (await get(quiet, "/api/creator/payouts", people.creator))["items"] == []


# --- pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "script"), [("/dashboard", "dashboard.js"), ("/me", "me.js")])
async def test_pages_are_served_with_their_script(
    quiet: TestClient, path: str, script: str
) -> None:
    response = await quiet.get(path)
    assert response.status == 200
    assert f'src="/static/{script}"' in await response.text()
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert (await quiet.get(f"/static/{script}")).status == 200
