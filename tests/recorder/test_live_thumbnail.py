"""Live thumbnails: the recorder decodes one keyframe of a live stream about every interval and
serves it as the stream's `thumbnail_url`, which the home page shows."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from fractions import Fraction

import av
import pytest
from aiohttp.test_utils import TestClient, TestServer

from recorder.live_thumbnail import keyframe_jpeg
from sfu import EncodedFrame
from signaling.config import AppConfig
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.webrtc_clients import whip
from tests.support.configs import configured
from tests.support.rtc_peers import HEIGHT, WIDTH, pattern_frame, read_pattern
from vilokanam.wiring import create_app


@pytest.fixture
async def client(app_config: AppConfig, redis) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    config = configured(app_config, recording=True, thumbnail_interval_s=1.0)
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


def _picture(jpeg: bytes) -> av.VideoFrame:
    with av.open(io.BytesIO(jpeg)) as container:
        return next(container.decode(video=0))


async def _thumbnail_url(client: TestClient, stream_id: str, not_: str | None) -> str:
    for _ in range(100):
        stream = await (await client.get(f"/api/streams/{stream_id}")).json()
        if stream["thumbnail_url"] and stream["thumbnail_url"] != not_:
            return str(stream["thumbnail_url"])
        await asyncio.sleep(0.1)
    raise AssertionError("no (new) thumbnail within 10 s")


@pytest.mark.usefixtures("loopback")
async def test_a_live_stream_gets_a_thumbnail_of_its_own_picture_refreshed_while_live(
    client: TestClient,
) -> None:
    stream = await new_stream(client, await new_user(client, creator=True), title="Thumbs")
    before = await client.get(f"/media/live/{stream['id']}/thumbnail.jpg")
    assert before.status == 404 and "no thumbnail yet" in (await before.json())["error"]["message"]

    publisher = await whip(client, stream["id"], stream["stream_key"])
    try:
        first = await _thumbnail_url(client, stream["id"], None)
        image = await client.get(first)
        assert image.status == 200 and image.headers["Content-Type"] == "image/jpeg"
        picture = _picture(await image.read())
        assert (picture.width, picture.height) == (WIDTH, HEIGHT)
        # The publisher's frame counter is readable in it: a real frame, not a blank.
        assert read_pattern(picture.to_ndarray(format="gray")) is not None
        second = await _thumbnail_url(client, stream["id"], first)  # a keyframe later, ~1 s
        assert second.split("?")[0] == first.split("?")[0]
    finally:
        await client.delete(publisher.location)
        await publisher.pc.close()
    kept = await client.get(second)  # the last picture stays after the stream ends
    assert kept.status == 200
    unknown = await client.get("/media/live/00000000-0000-0000-0000-000000000000/thumbnail.jpg")
    assert unknown.status == 404


def _h264_keyframe(number: int, width: int) -> bytes:
    """An Annex B H.264 IDR (with SPS/PPS) of the pattern frame, as a publisher would send."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, HEIGHT * width // WIDTH, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.options = {"tune": "zerolatency", "preset": "ultrafast"}
    gray = av.VideoFrame.from_ndarray(pattern_frame(number), format="gray")
    frame = gray.reformat(width=encoder.width, height=encoder.height, format="yuv420p")
    frame.pts = 0
    return b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])


def test_an_h264_keyframe_alone_becomes_a_jpeg_no_wider_than_640() -> None:
    frame = EncodedFrame("video", "H264", 90000, 0, True, _h264_keyframe(613, 1280))
    picture = _picture(keyframe_jpeg(frame))
    assert (picture.width, picture.height) == (640, 480)
    small = picture.reformat(width=WIDTH, height=HEIGHT, format="gray")
    assert read_pattern(small.to_ndarray()) == 613
