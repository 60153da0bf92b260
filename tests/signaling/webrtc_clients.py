"""WHIP and WHEP clients made of real aiortc peers, talking HTTP to the test app."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from aiortc import AudioStreamTrack, MediaStreamTrack, RTCRtpSender, RTCSessionDescription

from tests.sfu.conftest import PatternTrack, Viewer, client_pc

SDP = {"Content-Type": "application/sdp"}


@dataclass
class Broadcast:
    pc: object
    track: PatternTrack
    response: ClientResponse
    location: str
    etag: str


async def publisher_offer(
    codec: str = "VP8", audio: bool = True
) -> tuple[object, PatternTrack, str]:
    pc = client_pc()
    track = PatternTrack()
    transceiver = pc.addTransceiver(track, direction="sendonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == codec]
    )
    if audio:
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, track, pc.localDescription.sdp


async def whip(client: TestClient, stream_id: str, key: str, codec: str = "VP8") -> Broadcast:
    pc, track, offer = await publisher_offer(codec)
    response = await client.post(
        f"/whip/{stream_id}", data=offer, headers={**SDP, "Authorization": f"Bearer {key}"}
    )
    assert response.status == 201, await response.text()
    answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return Broadcast(pc, track, response, response.headers["Location"], response.headers["ETag"])


async def viewer_offer(audio: bool = True) -> Viewer:
    viewer = Viewer(client_pc())
    viewer.pc.addTransceiver("video", direction="recvonly")
    if audio:
        viewer.pc.addTransceiver("audio", direction="recvonly")

    @viewer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        viewer.tasks.append(asyncio.ensure_future(viewer._consume(track)))

    await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
    return viewer


async def whep_request(client: TestClient, stream_id: str, headers: dict,
                       viewer: Viewer) -> ClientResponse:
    return await client.post(
        f"/whep/{stream_id}", data=viewer.pc.localDescription.sdp, headers={**SDP, **headers}
    )


async def whep(client: TestClient, stream_id: str, headers: dict) -> tuple[Viewer, str]:
    """A viewer watching over WHEP; returns it and its session Location."""
    viewer = await viewer_offer()
    response = await whep_request(client, stream_id, headers, viewer)
    assert response.status == 201, await response.text()
    await viewer.pc.setRemoteDescription(
        RTCSessionDescription(sdp=await response.text(), type="answer")
    )
    return viewer, response.headers["Location"]
