"""WHIP and WHEP clients made of real aiortc peers (tests/support/rtc_peers.py) over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection
from yarl import URL

from tests.support.rtc_peers import PatternTrack, Viewer, accept_answer, publisher_peer, viewer_peer

SDP = {"Content-Type": "application/sdp"}
PRICE_HEADER = "Vilokanam-Price"


@dataclass
class Broadcast:
    pc: RTCPeerConnection
    track: PatternTrack
    response: ClientResponse
    location: str
    etag: str


async def publisher_offer(
    codec: str = "VP8", audio: bool = True
) -> tuple[RTCPeerConnection, PatternTrack, str]:
    pc, track = await publisher_peer(codec, audio)
    return pc, track, pc.localDescription.sdp


async def whip(client: TestClient, stream_id: str, key: str, codec: str = "VP8") -> Broadcast:
    pc, track, offer = await publisher_offer(codec)
    response = await client.post(
        f"/whip/{stream_id}", data=offer, headers={**SDP, "Authorization": f"Bearer {key}"}
    )
    assert response.status == 201, await response.text()
    await accept_answer(pc, await response.text())
    return Broadcast(pc, track, response, response.headers["Location"], response.headers["ETag"])


async def viewer_offer(audio: bool = True) -> Viewer:
    return await viewer_peer(audio)


async def whep_request(
    client: TestClient, stream_id: str, headers: dict, viewer: Viewer
) -> ClientResponse:
    return await client.post(
        f"/whep/{stream_id}", data=viewer.pc.localDescription.sdp, headers={**SDP, **headers}
    )


async def stream_price(client: TestClient, stream_id: str) -> str:
    """The price the stream's page shows (what a viewer accepts by pressing play)."""
    response = await client.get(f"/api/streams/{stream_id}")
    assert response.status == 200, await response.text()
    return (await response.json())["price_per_second"]


async def whep(client: TestClient, stream_id: str, headers: dict) -> tuple[Viewer, str]:
    """A viewer watching over WHEP at the price shown now; returns it and its session Location."""
    viewer = await viewer_peer(audio=True)
    price = {PRICE_HEADER: await stream_price(client, stream_id)}
    response = await whep_request(client, stream_id, {**price, **headers}, viewer)
    assert response.status == 201, await response.text()
    await accept_answer(viewer.pc, await response.text())
    return viewer, response.headers["Location"]


@dataclass
class Watching:
    """A WHEP viewer that may have been redirected: where its offer was answered from."""

    viewer: Viewer
    response: ClientResponse  # the final response (after redirects)
    session_url: str  # absolute: Location resolved against the final URL, as watch.js does


async def whep_following(client: TestClient, stream_id: str, headers: dict) -> Watching:
    """WHEP the way a browser's fetch does: a 307 is followed with method and body (and without
    Authorization, once it crosses origins); the session URL is relative to the final node."""
    viewer = await viewer_peer(audio=True)
    price = {PRICE_HEADER: await stream_price(client, stream_id)}
    response = await whep_request(client, stream_id, {**price, **headers}, viewer)
    assert response.status == 201, await response.text()
    await accept_answer(viewer.pc, await response.text())
    session_url = str(response.url.join(URL(response.headers["Location"])))
    return Watching(viewer, response, session_url)
