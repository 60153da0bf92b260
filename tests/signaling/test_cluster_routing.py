"""Issue 12 items 3-6 on two in-process nodes sharing PostgreSQL and Redis, with real aiortc peers:
session URLs work on any node, a full or draining node redirects WHEP, the view cap and cut-offs
hold across nodes, and a draining node sends its viewers elsewhere."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from signaling.cluster.forwarding import NODE_HEADER
from signaling.config import AppConfig
from signaling.keys import LIVE, REGISTRY
from signaling.runtime.drain import drain
from signaling.runtime.node_liveness import card
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.cluster import NODE_SECRET, cluster
from tests.signaling.support.sockets import connect, next_of
from tests.signaling.support.webrtc_clients import (
    PRICE_HEADER,
    Broadcast,
    whep,
    whep_following,
    whep_request,
    whip,
)
from tests.support.configs import configured
from tests.support.rtc_peers import Viewer, accept_answer, viewer_peer

pytestmark = pytest.mark.usefixtures("loopback")

TRICKLE = {"Content-Type": "application/trickle-ice-sdpfrag"}


async def wait_until(predicate, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.05)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def active_views(db: asyncpg.Pool, stream_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM stream_viewers WHERE stream_id = $1::uuid AND is_active",
            stream_id,
        )
    )


async def status_of(node: TestClient, stream_id: str) -> str:
    return str((await (await node.get(f"/api/streams/{stream_id}")).json())["status"])


def end_of_candidates(viewer: Viewer) -> str:
    lines = viewer.pc.localDescription.sdp.splitlines()
    ufrag = next(line for line in lines if line.startswith("a=ice-ufrag:"))
    return f"{ufrag}\r\na=mid:0\r\na=end-of-candidates\r\n"


async def beat(*nodes: TestClient) -> None:
    """Each node announces its load now (the heartbeat does every 5 s)."""
    for node in nodes:
        await node.app[REGISTRY].beat(card(node.app))


async def live_stream(node: TestClient) -> tuple[dict[str, str], dict, Broadcast]:
    """A new creator's stream (its creator's headers, the stream), broadcast over WHIP to `node`."""
    creator = await new_user(node, creator=True)
    stream = await new_stream(node, creator)
    return creator, stream, await whip(node, stream["id"], stream["stream_key"])


async def decoding_viewer(
    node: TestClient, stream_id: str, headers: dict[str, str] | None = None
) -> tuple[Viewer, str]:
    """A viewer (a new account unless `headers` given) watching on `node` over WHEP, once it has
    decoded 5 frames; and its session Location."""
    viewer, location = await whep(node, stream_id, headers or await new_user(node))
    await viewer.wait_frames(5)
    return viewer, location


async def test_patch_and_delete_of_a_session_reach_its_node_from_any_node(
    app_config: AppConfig, db: asyncpg.Pool
) -> None:
    async with cluster(app_config) as (a, b):
        _, stream, broadcast = await live_stream(a)
        watching = await whep_following(a, stream["id"], await new_user(a))
        viewer, location = watching.viewer, URL(watching.session_url).path
        etag = watching.response.headers["ETag"]
        await viewer.wait_frames(5)

        fragment = end_of_candidates(viewer)
        stale = await b.patch(location, data=fragment, headers={**TRICKLE, "If-Match": '"stale"'})
        assert stale.status == 412  # A's answer, relayed by B
        assert stale.headers["Access-Control-Allow-Origin"] == "*"
        assert "ETag" in (await stale.json())["error"]["message"]
        good = await b.patch(location, data=fragment, headers={**TRICKLE, "If-Match": etag})
        assert good.status == 204
        assert (await b.patch(location + "x", data=fragment, headers=TRICKLE)).status == 404
        await viewer.wait_frames(viewer.decoded + 5)  # the view went on

        deleted = await b.delete(location)
        assert deleted.status == 200
        await asyncio.wait_for(viewer.ended.wait(), 10)
        assert await active_views(db, stream["id"]) == 0
        assert (await a.delete(location)).status == 404  # gone everywhere
        assert (await b.delete(location)).status == 404

        # The publisher's session too: DELETE on B ends A's broadcast.
        assert (await b.delete(broadcast.location)).status == 200
        assert await status_of(a, stream["id"]) == "ended"
        assert not a.app[LIVE].is_live(uuid.UUID(stream["id"]))
        await viewer.close()
        await broadcast.pc.close()


async def test_a_forwarded_request_is_never_forwarded_again(
    app_config: AppConfig, db: asyncpg.Pool
) -> None:
    async with cluster(app_config) as (a, b):
        _, stream, broadcast = await live_stream(a)
        viewer, location = await decoding_viewer(a, stream["id"])
        # As if B had received it from another node: B answers itself (it does not hold it).
        looped = await b.delete(location, headers={NODE_HEADER: NODE_SECRET})
        assert looped.status == 404
        forged = await b.delete(location, headers={NODE_HEADER: "not-the-credential"})
        assert forged.status == 403
        assert NODE_SECRET not in await forged.text()
        assert await active_views(db, stream["id"]) == 1  # neither reached A
        await viewer.wait_frames(viewer.decoded + 5)
        assert (await b.delete(location)).status == 200  # a client's request is forwarded
        await asyncio.wait_for(viewer.ended.wait(), 10)
        await viewer.close()
        await broadcast.pc.close()
        await a.delete(broadcast.location)


async def test_a_full_node_redirects_with_a_single_use_ticket_and_503_when_all_are_full(
    app_config: AppConfig,
) -> None:
    async with cluster(app_config, node_max_viewers=1) as (a, b):
        creator = await new_user(a, creator=True)
        on_a, on_b = await new_stream(a, creator), await new_stream(a, creator)
        broadcasts = [
            await whip(a, on_a["id"], on_a["stream_key"]),
            await whip(b, on_b["id"], on_b["stream_key"]),
        ]
        filler, _ = await whep(a, on_a["id"], await new_user(a))
        await filler.wait_frames(3)  # A's one viewer is connected: A is full
        await beat(a, b)

        # A browser's fetch follows the 307 to B (without Authorization) and plays from B.
        redirected = await whep_following(a, on_b["id"], await new_user(a))
        b_url = str(b.make_url("")).rstrip("/")
        assert str(redirected.response.url).startswith(f"{b_url}/whep/{on_b['id']}?ticket=")
        assert redirected.session_url.startswith(f"{b_url}/whep/{on_b['id']}/")
        await redirected.viewer.wait_frames(10)
        assert (await a.session.delete(redirected.session_url)).status == 200
        await asyncio.wait_for(redirected.viewer.ended.wait(), 10)

        # The redirect itself, and its ticket: good once.
        viewer = await viewer_peer(audio=True)
        offer = viewer.pc.localDescription.sdp
        headers = {"Content-Type": "application/sdp", PRICE_HEADER: "0"}
        response = await a.post(
            f"/whep/{on_b['id']}",
            data=offer,
            headers={**headers, **await new_user(a)},
            allow_redirects=False,
        )
        assert response.status == 307
        target = response.headers["Location"]
        assert target.startswith(f"{b_url}/whep/{on_b['id']}?ticket=")
        first = await a.session.post(target, data=offer, headers=headers)
        assert first.status == 201, await first.text()
        await accept_answer(viewer.pc, await first.text())
        again = await a.session.post(target, data=offer, headers=headers)
        assert again.status == 401
        assert "ticket" in (await again.json())["error"]["message"]
        await viewer.wait_frames(3)
        await beat(a, b)  # B is full now too

        refused = await whep_request(a, on_b["id"], {**headers, **await new_user(a)}, filler)
        assert refused.status == 503
        assert refused.headers["Retry-After"]
        assert "full" in (await refused.json())["error"]["message"]
        for peer in (filler, redirected.viewer, viewer):
            await peer.close()
        for node, broadcast in zip((a, b), broadcasts, strict=True):
            await broadcast.pc.close()
            await node.delete(broadcast.location)


async def test_the_view_cap_counts_views_on_every_node(app_config: AppConfig) -> None:
    async with cluster(configured(app_config, max_views_per_viewer=2)) as (a, b):
        creator = await new_user(a, creator=True)
        on_a, on_b = await new_stream(a, creator), await new_stream(a, creator)
        broadcasts = [
            (a, await whip(a, on_a["id"], on_a["stream_key"])),
            (b, await whip(b, on_b["id"], on_b["stream_key"])),
        ]
        viewer = await new_user(a)
        first, _ = await whep(a, on_a["id"], viewer)
        second, second_url = await whep(b, on_b["id"], viewer)
        capped = await viewer_peer()
        refused = await whep_request(a, on_a["id"], viewer, capped)
        assert refused.status == 429
        assert "already has 2 open views" in (await refused.json())["error"]["message"]
        assert (await b.delete(second_url)).status == 200
        third, _ = await whep(a, on_a["id"], viewer)  # a view ended: room for one more
        await third.wait_frames(3)

        # Two offers at the same instant on two nodes with one slot left: one passes.
        other = await new_user(a)
        others_first, _ = await whep(a, on_a["id"], other)
        peers = [await viewer_peer(), await viewer_peer()]
        answers = await asyncio.gather(
            whep_request(a, on_a["id"], other, peers[0]),
            whep_request(b, on_b["id"], other, peers[1]),
        )
        assert sorted(r.status for r in answers) == [201, 429]
        for peer in (first, second, third, capped, others_first, *peers):
            await peer.close()
        for node, broadcast in broadcasts:
            await broadcast.pc.close()
            await node.delete(broadcast.location)


async def test_the_owner_ends_on_one_node_a_broadcast_held_by_another_within_2_s(
    app_config: AppConfig, db: asyncpg.Pool
) -> None:
    async with cluster(app_config) as (a, b):
        creator, stream, broadcast = await live_stream(a)
        viewer, _ = await decoding_viewer(a, stream["id"])
        started = asyncio.get_running_loop().time()
        ended = await b.post(f"/api/streams/{stream['id']}/end", headers=creator)
        assert ended.status == 200
        assert (await ended.json())["status"] == "ended"  # A acknowledged before B answered
        assert asyncio.get_running_loop().time() - started < 2.0
        assert not a.app[LIVE].is_live(uuid.UUID(stream["id"]))
        await asyncio.wait_for(viewer.ended.wait(), 2)
        assert await active_views(db, stream["id"]) == 0
        assert (await a.delete(broadcast.location)).status == 404
        await viewer.close()
        await broadcast.pc.close()


async def test_a_key_rotation_on_one_node_ends_the_broadcast_on_another(
    app_config: AppConfig,
) -> None:
    async with cluster(app_config) as (a, b):
        creator, stream, leaked = await live_stream(a)
        viewer, _ = await decoding_viewer(a, stream["id"])
        rotated = await b.post(f"/api/streams/{stream['id']}/key", headers=creator)
        assert rotated.status == 200
        assert (await rotated.json())["status"] == "ended"
        await asyncio.wait_for(viewer.ended.wait(), 2)
        assert not a.app[LIVE].is_live(uuid.UUID(stream["id"]))
        await viewer.close()
        await leaked.pc.close()


async def test_a_draining_node_sends_its_viewers_elsewhere_and_ends_what_is_left(
    app_config: AppConfig, db: asyncpg.Pool
) -> None:
    async with cluster(app_config) as (a, b):
        creator, stream, broadcast = await live_stream(a)
        headers = await new_user(a)
        viewer, _ = await decoding_viewer(a, stream["id"], headers)
        socket = await connect(b, stream["id"], headers)  # its page's socket, on the other node

        draining = asyncio.create_task(drain(a.app, grace_s=3.0))
        assert (await next_of(socket, "reconnect", within=2))["reason"] == "node_draining"
        assert await b.app[REGISTRY].with_room() is None  # A is draining: no room but B's own
        newcomer = await viewer_peer()
        redirect = await a.post(
            f"/whep/{stream['id']}",
            data=newcomer.pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp", **headers},
            allow_redirects=False,
        )
        assert redirect.status == 307  # new viewers go to B
        assert redirect.headers["Location"].startswith(str(b.make_url("")).rstrip("/"))
        other = await new_stream(a, creator)
        refused = await a.post(
            f"/whip/{other['id']}",
            data=newcomer.pc.localDescription.sdp.replace("recvonly", "sendonly"),
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {other['stream_key']}",
            },
        )
        assert refused.status == 503 and refused.headers["Retry-After"]  # no new broadcast here

        await asyncio.wait_for(draining, 10)  # the viewer did not leave: ended after the grace
        await asyncio.wait_for(viewer.ended.wait(), 5)
        assert await active_views(db, stream["id"]) == 0
        assert await status_of(b, stream["id"]) == "ended"
        await socket.close()
        for peer in (viewer, newcomer):
            await peer.close()
        await broadcast.pc.close()


async def test_a_forwarded_request_counts_once_in_the_clients_budget(
    app_config: AppConfig,
) -> None:
    async with cluster(configured(app_config, session_requests_per_minute=4)) as (a, b):
        _, stream, broadcast = await live_stream(a)
        stale = {**TRICKLE, "If-Match": '"stale"'}
        for _ in range(4):  # counted on B only: A trusts B's count (it would refuse the 3rd)
            answer = await b.patch(
                broadcast.location, data="a=end-of-candidates\r\n", headers=stale
            )
            assert answer.status == 412
        over = await b.patch(broadcast.location, data="a=end-of-candidates\r\n", headers=stale)
        assert over.status == 429 and over.headers["Retry-After"]
        await broadcast.pc.close()
        await a.delete(broadcast.location)
