"""WHIP ingest and WHEP playback over HTTP with real aiortc peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from signaling.config import AppConfig
from signaling.keys import LIVE
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.webrtc_clients import (
    SDP,
    publisher_offer,
    viewer_offer,
    whep,
    whep_request,
    whip,
)
from tests.support.configs import configured
from tests.support.rtc_peers import accept_answer, viewer_peer
from vilokanam.wiring import create_app

pytestmark = pytest.mark.usefixtures("loopback")


def only_loopback_candidates(sdp: str) -> bool:
    candidates = [line for line in sdp.splitlines() if line.startswith("a=candidate:")]
    return bool(candidates) and all(line.split(" ")[4] == "127.0.0.1" for line in candidates)


def candidate_ports(sdp: str) -> set[int]:
    return {int(line.split(" ")[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def wait_until(predicate, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_whip_publish_three_whep_viewers_decode_and_delete_ends_all(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    assert broadcast.location.startswith(f"/whip/{stream['id']}/")
    assert len(broadcast.location.rsplit("/", 1)[1]) >= 32  # unguessable
    assert broadcast.etag.startswith('"')
    answer = await broadcast.response.text()
    assert only_loopback_candidates(answer)
    udp_port = client.app[LIVE].sfu.udp_port  # RTC_UDP_MUX: one port for every peer
    assert udp_port and candidate_ports(answer) == {udp_port}
    assert "a=setup:passive" in answer
    live = await (await client.get(f"/api/streams/{stream['id']}")).json()
    assert live["status"] == "live" and live["start_time"]

    viewers = []
    for _ in range(3):
        headers = await new_user(client)
        viewers.append(await whep(client, stream["id"], headers))
    for viewer, _location in viewers:
        assert candidate_ports(viewer.pc.remoteDescription.sdp) == {udp_port}
        await viewer.wait_frames(20)
        numbers = viewer.numbers
        # Decoded content is the publisher's frame counter, advancing.
        assert sum(1 for a, b in zip(numbers, numbers[1:], strict=False) if 1 <= b - a <= 3) >= 15
        assert max(numbers) <= broadcast.track.sent

    async def counted(count: int) -> bool:  # stored once each view connected: soon, not at once
        body = await (await client.get(f"/api/streams/{stream['id']}")).json()
        return body["viewer_count"] == count

    await wait_until(lambda: counted(3), within=5)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid AND is_active",
            stream["id"],
        )
        == 3
    )
    assert (
        await db.fetchval(
            "SELECT viewer_peak FROM stream_sessions WHERE stream_id = $1::uuid", stream["id"]
        )
        == 3
    )

    deleted = await client.delete(broadcast.location)
    assert deleted.status == 200
    for viewer, _location in viewers:
        await asyncio.wait_for(viewer.ended.wait(), 10)
    ended = await (await client.get(f"/api/streams/{stream['id']}")).json()
    assert ended["status"] == "ended" and ended["end_time"] and ended["viewer_count"] == 0
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid AND is_active",
            stream["id"],
        )
        == 0
    )
    assert await db.fetchval(
        "SELECT end_time IS NOT NULL FROM stream_sessions WHERE stream_id = $1::uuid", stream["id"]
    )
    for viewer, _location in viewers:
        await viewer.close()
    await broadcast.pc.close()


async def test_late_viewer_decodes_within_two_seconds(client: TestClient, stream: dict) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    first, _ = await whep(client, stream["id"], await new_user(client))
    await first.wait_frames(10)
    await asyncio.sleep(1.0)  # well past the first keyframe
    late, _ = await whep(client, stream["id"], await new_user(client))
    await late.wait_frames(1, within=5)
    assert late.first_frame_after is not None and late.first_frame_after < 2.0
    for peer in (first, late):
        await peer.close()
    await broadcast.pc.close()


async def test_whep_delete_ends_only_that_view(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    stay, _ = await whep(client, stream["id"], await new_user(client))
    leave, location = await whep(client, stream["id"], await new_user(client))
    assert (await client.delete(location)).status == 200
    assert (await client.delete(location)).status == 404
    before = len(stay.numbers)
    await stay.wait_frames(10)
    assert len(stay.numbers) > before
    assert (await (await client.get(f"/api/streams/{stream['id']}")).json())["viewer_count"] == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid AND NOT is_active",
            stream["id"],
        )
        == 1
    )
    for peer in (stay, leave):
        await peer.close()
    await broadcast.pc.close()


async def test_whip_errors(client: TestClient, stream: dict, creator: dict) -> None:
    pc, _track, offer = await publisher_offer()
    key = {"Authorization": f"Bearer {stream['stream_key']}"}
    path = f"/whip/{stream['id']}"
    cases = [
        (path, offer, {**SDP, "Authorization": "Bearer vks_wrong"}, 401),
        (path, offer, SDP, 401),
        ("/whip/00000000-0000-0000-0000-000000000000", offer, {**SDP, **key}, 404),
        ("/whip/not-a-uuid", offer, {**SDP, **key}, 404),
        (path, offer, {"Content-Type": "text/plain", **key}, 415),
        (path, "hello", {**SDP, **key}, 400),
        (path, offer.replace("m=video", "m=text"), {**SDP, **key}, 422),
        (path, _only_codec(offer, "H264-not-here"), {**SDP, **key}, 422),
    ]
    for url, body, headers, status in cases:
        response = await client.post(url, data=body, headers=headers)
        assert response.status == status, (url, headers, status, await response.text())
        if status != 404 or "not-a-uuid" not in url:
            assert (await response.json())["error"]["message"]
    assert (await (await client.get(f"/api/streams/{stream['id']}")).json())["status"] == "pending"
    await pc.close()

    first = await whip(client, stream["id"], stream["stream_key"])
    second_pc, _, second_offer = await publisher_offer()
    second = await client.post(path, data=second_offer, headers={**SDP, **key})
    assert second.status == 409
    deleting_live = await client.delete(f"/api/streams/{stream['id']}", headers=creator)
    assert deleting_live.status == 409
    assert "/end" in (await deleting_live.json())["error"]["message"]  # says how to end it
    price_change = await client.patch(
        f"/api/streams/{stream['id']}", headers=creator, json={"price_per_second": "5"}
    )
    assert price_change.status == 409
    await second_pc.close()
    await first.pc.close()
    await client.delete(first.location)


def _only_codec(offer: str, codec: str) -> str:
    """The offer with every video codec renamed, so none is one we forward."""
    return offer.replace("VP8/90000", f"{codec}/90000").replace("H264/90000", f"{codec}/90000")


async def test_patch_trickle_rules(client: TestClient, stream: dict) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    ufrag = next(
        line
        for line in broadcast.pc.localDescription.sdp.splitlines()
        if line.startswith("a=ice-ufrag:")
    )
    fragment = f"{ufrag}\r\na=mid:0\r\na=end-of-candidates\r\n"
    trickle = {"Content-Type": "application/trickle-ice-sdpfrag"}
    url = broadcast.location
    assert (await client.patch(url, data=fragment, headers=trickle)).status == 428
    stale = {**trickle, "If-Match": '"stale"'}
    assert (await client.patch(url, data=fragment, headers=stale)).status == 412
    good = {**trickle, "If-Match": broadcast.etag}
    assert (await client.patch(url, data=fragment, headers=good)).status == 204
    restart = "a=ice-ufrag:newufrag\r\na=ice-pwd:newpasswordnewpassword\r\n"
    assert (await client.patch(url, data=restart, headers=good)).status == 422
    wrong_type = {"Content-Type": "application/sdp", "If-Match": broadcast.etag}
    assert (await client.patch(url, data=fragment, headers=wrong_type)).status == 415
    assert (await client.patch(url + "x", data=fragment, headers=good)).status == 404
    await broadcast.pc.close()
    await client.delete(url)


async def test_options_answers_cors(client: TestClient, stream: dict) -> None:
    for path in (f"/whip/{stream['id']}", f"/whep/{stream['id']}"):
        response = await client.options(path)
        assert response.status == 204
        assert response.headers["Accept-Post"] == "application/sdp"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
        assert "POST" in response.headers["Access-Control-Allow-Methods"]


async def test_whep_errors(client: TestClient, stream: dict) -> None:
    viewer = await viewer_offer()
    headers = await new_user(client)
    not_live = await whep_request(client, stream["id"], headers, viewer)
    assert not_live.status == 409
    assert int(not_live.headers["Retry-After"]) > 0
    assert (await whep_request(client, stream["id"], {}, viewer)).status == 401
    bogus = {"Authorization": "Bearer vkt_nope"}
    assert (await whep_request(client, stream["id"], bogus, viewer)).status == 401
    unknown = "00000000-0000-0000-0000-000000000000"
    assert (await whep_request(client, unknown, headers, viewer)).status == 404
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    text = await client.post(
        f"/whep/{stream['id']}", data="v=0\r\nnonsense", headers={**SDP, **headers}
    )
    assert text.status == 422
    wrong_type = await client.post(
        f"/whep/{stream['id']}", data="x", headers={"Content-Type": "text/plain", **headers}
    )
    assert wrong_type.status == 415
    await viewer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def test_publisher_vanishing_ends_stream(client: TestClient, stream: dict) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, _ = await whep(client, stream["id"], await new_user(client))
    await viewer.wait_frames(5)
    await broadcast.pc.close()  # no DELETE: the peer just goes away

    async def ended() -> bool:
        body = await (await client.get(f"/api/streams/{stream['id']}")).json()
        return body["status"] == "ended"

    await wait_until(ended, within=20)
    await asyncio.wait_for(viewer.ended.wait(), 10)
    await viewer.close()


async def test_an_ending_cancelled_halfway_still_ends_the_stream_and_its_views(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    """A client that hangs up during DELETE (its handler cancelled between the sfu and
    PostgreSQL) must not leave the stream live, its views open or its recording unfinished."""
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, _ = await whep(client, stream["id"], await new_user(client))
    await viewer.wait_frames(5)
    live = client.app[LIVE]
    stream_id = uuid.UUID(stream["id"])
    ending = asyncio.create_task(live.end_broadcast(stream_id, "publisher_left"))
    await asyncio.sleep(0)  # under way: the session is forgotten, its views are being closed
    assert not live.is_live(stream_id) and not ending.done()
    ending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ending

    async def ended() -> bool:
        body = await (await client.get(f"/api/streams/{stream['id']}")).json()
        return body["status"] == "ended" and body["viewer_count"] == 0

    await wait_until(ended, within=10)
    await asyncio.wait_for(viewer.ended.wait(), 10)
    assert not await db.fetchval(
        "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid AND is_active", stream["id"]
    )
    assert await db.fetchval(
        "SELECT end_time IS NOT NULL FROM stream_sessions WHERE stream_id = $1::uuid", stream["id"]
    )
    await viewer.close()
    await broadcast.pc.close()


async def test_stream_can_go_live_again_after_ending(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    first = await whip(client, stream["id"], stream["stream_key"])
    await client.delete(first.location)
    await first.pc.close()
    second = await whip(client, stream["id"], stream["stream_key"])
    body = await (await client.get(f"/api/streams/{stream['id']}")).json()
    assert body["status"] == "live"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_sessions WHERE stream_id = $1::uuid", stream["id"]
        )
        == 2
    )
    await client.delete(second.location)
    await second.pc.close()


@pytest.fixture
def app_config(app_config):  # type: ignore[no-untyped-def]
    """Sample viewer counts every 0.3 s instead of 10 s, so the test is short."""
    return configured(app_config, analytics_interval_s=0.3)


async def test_viewer_count_is_sampled_while_live(
    client: TestClient, stream: dict, db: asyncpg.Pool
) -> None:
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, _ = await whep(client, stream["id"], await new_user(client))

    async def sampled() -> bool:
        return bool(
            await db.fetchval(
                "SELECT count(*) FROM stream_analytics"
                " WHERE stream_id = $1::uuid AND viewer_count = 1",
                stream["id"],
            )
        )

    await wait_until(sampled, within=5)
    await client.delete(broadcast.location)
    count = await db.fetchval(
        "SELECT count(*) FROM stream_analytics WHERE stream_id = $1::uuid", stream["id"]
    )
    await asyncio.sleep(0.8)
    after = await db.fetchval(
        "SELECT count(*) FROM stream_analytics WHERE stream_id = $1::uuid", stream["id"]
    )
    assert after == count  # no samples once the stream ended
    await viewer.close()
    await broadcast.pc.close()


async def test_session_urls_and_keys_are_not_logged(client: TestClient, stream: dict) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        broadcast = await whip(client, stream["id"], stream["stream_key"])
        await client.delete(broadcast.location)
        await broadcast.pc.close()
    http = [entry for entry in logs if entry.get("event") == "http_request"]
    assert {entry["path"] for entry in http} >= {
        f"/whip/{stream['id']}",
        "/whip/{stream_id}/{session}",
    }
    secret = broadcast.location.rsplit("/", 1)[1]
    assert all(secret not in repr(entry) for entry in logs)
    assert all(stream["stream_key"] not in repr(entry) for entry in logs)


async def test_whep_offer_of_any_subset_of_m_lines_is_answered(
    client: TestClient, stream: dict
) -> None:
    """Issue 10 item 15: a video-only WHEP offer to a stream with audio answered 500."""
    broadcast = await whip(client, stream["id"], stream["stream_key"])  # audio and video
    headers = await new_user(client)
    video_only = await viewer_peer(audio=False)
    response = await whep_request(client, stream["id"], headers, video_only)
    assert response.status == 201, await response.text()
    answer = await response.text()
    assert [line.split()[0] for line in answer.splitlines() if line.startswith("m=")] == ["m=video"]
    await accept_answer(video_only.pc, answer)
    await video_only.wait_frames(10)

    with_data = await viewer_peer(audio=True)
    with_data.pc.createDataChannel("chat")
    await with_data.pc.setLocalDescription(await with_data.pc.createOffer())
    response = await whep_request(client, stream["id"], await new_user(client), with_data)
    assert response.status == 201, await response.text()
    ports = {
        line.split()[0]: line.split()[1]
        for line in (await response.text()).splitlines()
        if line.startswith("m=")
    }
    assert ports["m=application"] == "0" and ports["m=video"] != "0" and ports["m=audio"] != "0"
    for peer in (video_only, with_data):
        await peer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


BAD_TRICKLE = [
    "a=candidate:garbage",
    "a=candidate:1 1 udp 1 127.0.0.1 99999999 typ host",
    "a=candidate:1 1 udp 1 not-an-address 5000 typ host",
    "a=candidate:1 1 udp 1 127.0.0.1 5000 typ weird",
]


async def test_malformed_trickle_and_offers_answer_4xx_with_a_message(
    client: TestClient, stream: dict
) -> None:
    """Issue 10 item 16: `a=candidate:garbage` in a PATCH answered 500."""
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    headers = await new_user(client)
    viewer = await viewer_peer(audio=True)
    watching = await whep_request(client, stream["id"], headers, viewer)
    assert watching.status == 201
    await accept_answer(viewer.pc, await watching.text())
    sessions = [
        (broadcast.location, broadcast.etag),
        (watching.headers["Location"], watching.headers["ETag"]),
    ]
    trickle = {"Content-Type": "application/trickle-ice-sdpfrag"}
    for location, etag in sessions:
        for line in BAD_TRICKLE:
            response = await client.patch(
                location, data=f"a=mid:0\r\n{line}\r\n", headers={**trickle, "If-Match": etag}
            )
            assert response.status == 400, (line, await response.text())
            assert (await response.json())["error"]["message"].startswith("bad ICE candidate")
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        good = "a=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"
        assert (
            await client.patch(location, data=good, headers={**trickle, "If-Match": etag})
        ).status == 204
    await viewer.wait_frames(5)  # the media sessions survived the bad requests

    late = await viewer_peer(audio=True)
    bad_offer = late.pc.localDescription.sdp.replace(
        "a=end-of-candidates", f"{BAD_TRICKLE[1]}\r\na=end-of-candidates"
    )
    response = await client.post(
        f"/whep/{stream['id']}", data=bad_offer, headers={**SDP, **headers}
    )
    assert response.status == 422
    assert "candidate" in (await response.json())["error"]["message"]
    for peer in (viewer, late):
        await peer.close()
    await broadcast.pc.close()
    await client.delete(broadcast.location)


async def test_rotating_the_key_ends_the_broadcast_that_used_the_old_key(
    client: TestClient, stream: dict, creator: dict
) -> None:
    """Issue 10 item 11: a leaked key's broadcast went on after rotation."""
    leaked = await whip(client, stream["id"], stream["stream_key"])
    viewer, _ = await whep(client, stream["id"], await new_user(client))
    await viewer.wait_frames(5)
    rotated = await client.post(f"/api/streams/{stream['id']}/key", headers=creator)
    assert rotated.status == 200
    body = await rotated.json()
    assert body["status"] == "ended" and body["stream_key"] != stream["stream_key"]
    await asyncio.wait_for(viewer.ended.wait(), 10)
    assert (await client.delete(leaked.location)).status == 404
    pc, _track, offer = await publisher_offer()
    old_key = await client.post(
        f"/whip/{stream['id']}",
        data=offer,
        headers={**SDP, "Authorization": f"Bearer {stream['stream_key']}"},
    )
    assert old_key.status == 401
    await pc.close()
    owner = await whip(client, stream["id"], body["stream_key"])
    assert (await (await client.get(f"/api/streams/{stream['id']}")).json())["status"] == "live"
    for peer in (viewer,):
        await peer.close()
    for broadcast in (leaked, owner):
        await broadcast.pc.close()
    await client.delete(owner.location)


async def test_the_owner_ends_a_broadcast_from_the_api(
    client: TestClient, stream: dict, creator: dict, db: asyncpg.Pool
) -> None:
    """Issue 10 item 11: the owner had no way to end a broadcast published elsewhere."""
    end = f"/api/streams/{stream['id']}/end"
    not_live = await client.post(end, headers=creator)
    assert not_live.status == 409 and (await not_live.json())["error"]["message"]
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, _ = await whep(client, stream["id"], await new_user(client))
    await viewer.wait_frames(5)
    assert (await client.post(end, headers=await new_user(client))).status == 403
    assert (await client.post(end)).status == 401
    ended = await client.post(end, headers=creator)
    assert ended.status == 200
    assert (await ended.json())["status"] == "ended"
    await asyncio.wait_for(viewer.ended.wait(), 10)
    assert (await client.delete(broadcast.location)).status == 404
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_sessions WHERE stream_id = $1::uuid AND end_time IS NULL",
            stream["id"],
        )
        == 0
    )
    assert (await client.delete(f"/api/streams/{stream['id']}", headers=creator)).status == 204

    # A stream left 'live' by a process that died: no publisher here, the owner still ends it.
    stale = await new_stream(client, creator)
    await db.execute("UPDATE streams SET status = 'live' WHERE id = $1::uuid", stale["id"])
    await db.execute(
        "INSERT INTO stream_sessions (stream_id, sfu_server_url, signaling_server_url)"
        " VALUES ($1::uuid, 'http://gone', 'http://gone')",
        stale["id"],
    )
    assert (await client.post(f"/api/streams/{stale['id']}/end", headers=creator)).status == 200
    assert (
        await db.fetchval(
            "SELECT count(*) FROM stream_sessions WHERE stream_id = $1::uuid AND end_time IS NULL",
            stale["id"],
        )
        == 0
    )
    await viewer.close()
    await broadcast.pc.close()


async def test_without_the_udp_mux_each_peer_gets_its_own_port(
    app_config: AppConfig, stream: dict, redis: object
) -> None:
    config = configured(app_config, rtc_udp_mux=False)
    async with TestClient(TestServer(create_app(config))) as own:
        assert own.app[LIVE].sfu.udp_port is None
        broadcast = await whip(own, stream["id"], stream["stream_key"])
        viewer, _ = await whep(own, stream["id"], await new_user(own))
        published = candidate_ports(await broadcast.response.text())
        assert published and published != candidate_ports(viewer.pc.remoteDescription.sdp)
        await viewer.close()
        await broadcast.pc.close()
