"""Issue 3: GStreamer's WHIP client publishes to us unchanged.

Meetecho's simple-whip-client (webrtcbin + libnice, RSA DTLS certificate, candidates in the
offer) runs in a network namespace, because libnice never gathers on loopback; the server
listens and gathers on the root end of a veth pair. A WHEP viewer decodes what it sends; Ctrl-C
makes the client DELETE its session, which ends the stream.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
from aiohttp.test_utils import TestClient

from signaling.keys import PG
from tests.interop.support.netns import VethNamespace
from tests.interop.support.viewer import BarsViewer, watch
from tests.interop.support.whip_client import HEIGHT, WIDTH, WhipClient, start_whip_client
from tests.signaling.support.accounts import new_stream, new_user

# GStreamer's payloaders send packets of up to 1400 bytes by default.
GSTREAMER_MTU = 1400


@dataclass
class Session:
    client: TestClient
    stream: dict
    url: str
    publisher: WhipClient
    viewer: BarsViewer


async def stream_status(client: TestClient, stream_id: str) -> str:
    return (await (await client.get(f"/api/streams/{stream_id}")).json())["status"]


async def wait_until_live(
    client: TestClient, stream_id: str, publisher: WhipClient, within: float = 20.0
) -> None:
    deadline = time.monotonic() + within
    while await stream_status(client, stream_id) != "live":
        assert publisher.running, f"whip-client exited:\n{publisher.log()}"
        assert time.monotonic() < deadline, f"stream never went live:\n{publisher.log()}"
        await asyncio.sleep(0.1)


def video_codecs(sdp: str) -> set[str]:
    """Codec names of the video m-section's rtpmap lines."""
    video = sdp.split("m=video", 1)[1].split("m=", 1)[0]
    return {
        line.split(" ", 1)[1].split("/")[0]
        for line in video.splitlines()
        if line.startswith("a=rtpmap:")
    }


@pytest.fixture
def publish(
    veth: VethNamespace,
    veth_server: TestClient,
    whip_clients: list[WhipClient],
    whip_client_libraries: Path | None,
    tmp_path: Path,
):  # type: ignore[no-untyped-def]
    """Start whip-client on a new stream, wait until live, and add a WHEP viewer."""

    async def start(codec: str, mtu: int) -> Session:
        client = veth_server
        stream = await new_stream(client, await new_user(client, creator=True))
        url = str(client.make_url(f"/whip/{stream['id']}"))
        publisher = await start_whip_client(
            veth,
            url,
            stream["stream_key"],
            codec,
            tmp_path / f"whip-client-{codec}.log",
            whip_client_libraries,
            mtu=mtu,
        )
        whip_clients.append(publisher)
        await wait_until_live(client, stream["id"], publisher)
        viewer = await watch(client, stream["id"], await new_user(client))
        return Session(client, stream, url, publisher, viewer)

    return start


async def wait_frames(session: Session, count: int, within: float = 30) -> None:
    try:
        await session.viewer.wait_frames(count, within=within)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{session.publisher.log()}") from None


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_gstreamer_whip_client_publishes_and_ctrl_c_ends_the_stream(
    codec: str,
    veth: VethNamespace,
    publish,  # type: ignore[no-untyped-def]
) -> None:
    traffic_before = veth.host_bytes()
    session: Session = await publish(codec, GSTREAMER_MTU)
    viewer, publisher = session.viewer, session.publisher
    await wait_frames(session, 60)
    log = publisher.log()
    assert f"Resource URL: {session.url}/" in log  # our Location, resolved against the POST
    assert "PeerConnection connected" in log
    assert codec in video_codecs(viewer.answer)
    assert viewer.sizes == {(WIDTH, HEIGHT)}
    # The picture is GStreamer's colour bars. On a busy machine a lost packet can spoil the
    # frames up to the next keyframe (every second), so not every frame is required to match.
    assert viewer.bars_frames >= 30
    assert viewer.audio_frames > 0
    # The media crossed the veth pair (60 frames of video plus audio: far more than 50 kB).
    assert veth.host_bytes() - traffic_before > 50_000

    assert await publisher.interrupt() == 0, publisher.log()
    await asyncio.wait_for(viewer.ended.wait(), 10)
    assert await stream_status(session.client, session.stream["id"]) == "ended"
    await viewer.close()

    # The stream was recorded: one part, remuxed, at the client's picture size.
    db = session.client.app[PG]
    for _ in range(100):
        video_id = await db.fetchval(
            "SELECT recording_id FROM stream_sessions WHERE stream_id = $1::uuid",
            session.stream["id"],
        )
        if video_id:
            break
        await asyncio.sleep(0.1)
    parts = await db.fetchval("SELECT source_paths FROM vod_jobs WHERE video_id = $1", video_id)
    with av.open(parts[0]) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == codec.lower()
        first = next(container.decode(stream))
    assert (first.width, first.height) == (WIDTH, HEIGHT)
