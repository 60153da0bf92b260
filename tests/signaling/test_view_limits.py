"""Issue 10 item 10: WHEP sessions that never connect hold nothing, and one account has a cap.

Real aiortc peers on 127.0.0.1. A "silent" viewer posts an offer and never applies the answer,
so ICE and DTLS never come up: what an attacker scripting WHEP POSTs does.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.signaling.support.accounts import new_user
from tests.signaling.support.sockets import connect, next_of
from tests.signaling.support.webrtc_clients import publisher_offer, whep, whep_request, whip
from tests.support.configs import configured
from tests.support.rtc_peers import Viewer, viewer_peer

pytestmark = pytest.mark.usefixtures("loopback")

CONNECT_TIMEOUT_S = 2.0


@pytest.fixture
def app_config(app_config):  # type: ignore[no-untyped-def]
    return configured(app_config, max_views_per_viewer=2, rtc_connect_timeout_s=CONNECT_TIMEOUT_S)


async def silent_view(client: TestClient, stream_id: str, headers: dict) -> tuple[Viewer, str]:
    """A WHEP session whose peer never connects; its Location."""
    viewer = await viewer_peer(audio=True)
    response = await whep_request(client, stream_id, headers, viewer)
    assert response.status == 201, await response.text()
    return viewer, response.headers["Location"]


async def viewer_count(client: TestClient, stream_id: str) -> int:
    return (await (await client.get(f"/api/streams/{stream_id}")).json())["viewer_count"]


async def metric(client: TestClient, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def test_unconnected_views_are_not_counted_capped_and_ended(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    socket = await connect(client, stream["id"])
    timeouts_before = await metric(client, 'vilokanam_rtc_not_connected_total{kind="whep"}')
    attacker = await new_user(client)
    silent = [await silent_view(client, stream["id"], attacker) for _ in range(2)]

    refused = await whep_request(client, stream["id"], attacker, await viewer_peer())
    assert refused.status == 429
    assert "open views" in (await refused.json())["error"]["message"]
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert await viewer_count(client, stream["id"]) == 0

    honest, _ = await whep(client, stream["id"], await new_user(client))  # others unaffected
    await honest.wait_frames(5)
    assert (await next_of(socket, "viewers"))["count"] == 1
    assert await viewer_count(client, stream["id"]) == 1
    live_text = await (await client.get("/metrics")).text()
    assert "vilokanam_live_viewers 1.0" in live_text

    await asyncio.sleep(CONNECT_TIMEOUT_S + 1.0)
    for _, location in silent:
        assert (await client.delete(location)).status == 404  # ended by the server
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid AND is_active",
            stream["id"],
        )
        == 1
    )
    after = await metric(client, 'vilokanam_rtc_not_connected_total{kind="whep"}')
    assert after - timeouts_before == 2
    assert await viewer_count(client, stream["id"]) == 1
    again, _ = await whep(client, stream["id"], attacker)  # the cap counts open views only
    await again.wait_frames(5)
    # The count is stored (cluster-wide, through the registry) once the view connected, and
    # announced after: the announcement is the moment to read it.
    assert (await next_of(socket, "viewers"))["count"] == 2
    assert await viewer_count(client, stream["id"]) == 2

    for peer, _ in silent:
        await peer.close()
    for peer in (honest, again):
        await peer.close()
    await socket.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def test_a_publisher_that_never_connects_does_not_keep_the_stream_live(
    client: TestClient, stream: dict
) -> None:
    pc, _track, offer = await publisher_offer()
    response = await client.post(
        f"/whip/{stream['id']}",
        data=offer,
        headers={
            "Content-Type": "application/sdp",
            "Authorization": f"Bearer {stream['stream_key']}",
        },
    )
    assert response.status == 201
    assert (await (await client.get(f"/api/streams/{stream['id']}")).json())["status"] == "live"
    await asyncio.sleep(CONNECT_TIMEOUT_S + 1.0)
    body = await (await client.get(f"/api/streams/{stream['id']}")).json()
    assert body["status"] == "ended"
    assert (await client.delete(response.headers["Location"])).status == 404
    await pc.close()


async def test_concurrent_offers_cannot_pass_the_cap_together(
    client: TestClient, stream: dict
) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    account = await new_user(client)
    viewers = [await viewer_peer() for _ in range(5)]
    responses = await asyncio.gather(
        *(whep_request(client, stream["id"], account, viewer) for viewer in viewers)
    )
    assert sorted(r.status for r in responses) == [201, 201, 429, 429, 429]
    for viewer in viewers:
        await viewer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)
