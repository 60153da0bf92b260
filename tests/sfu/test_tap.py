"""The recorder's in-process tap: whole encoded frames from a keyframe on."""

from __future__ import annotations

import asyncio

import av
import pytest

from sfu import EncodedFrame, NotLive, Sfu
from tests.sfu.support.peers import start_publisher
from tests.support.rtc_peers import HEIGHT, WIDTH, read_pattern

DECODERS = {"VP8": "vp8", "H264": "h264"}


async def collect(tap, count: int) -> list[EncodedFrame]:  # type: ignore[no-untyped-def]
    frames: list[EncodedFrame] = []
    async with asyncio.timeout(10):
        async for frame in tap:
            frames.append(frame)
            if len(frames) >= count:
                break
    return frames


@pytest.mark.parametrize("codec", ["VP8", "H264"])
async def test_tap_starts_at_a_decodable_keyframe(sfu: Sfu, codec: str) -> None:
    publisher = await start_publisher(sfu, "t", codec=codec, audio=True)
    await asyncio.sleep(1.5)  # join mid-stream: the tap must ask for a keyframe
    tap = sfu.tap("t")
    try:
        frames = await collect(tap, 80)
        video = [f for f in frames if f.kind == "video"]
        audio = [f for f in frames if f.kind == "audio"]
        assert frames[0].kind == "video" and frames[0].keyframe
        assert {(f.codec_name, f.clock_rate) for f in video} == {(codec, 90000)}
        assert {(f.codec_name, f.clock_rate) for f in audio} == {("opus", 48000)}
        assert len(video) >= 20 and len(audio) >= 20
        timestamps = [f.timestamp for f in video]
        assert len(set(timestamps)) == len(timestamps)  # one entry per frame

        decoder = av.CodecContext.create(DECODERS[codec], "r")
        numbers = []
        for frame in video:
            for picture in decoder.decode(av.Packet(frame.payload)):
                assert (picture.width, picture.height) == (WIDTH, HEIGHT)
                numbers.append(read_pattern(picture.to_ndarray(format="gray")))
        assert len(numbers) >= len(video) - 2  # decoder delay at most
        assert None not in numbers
        assert numbers == sorted(numbers) and numbers[-1] - numbers[0] >= len(numbers) - 1
    finally:
        tap.close()
        await publisher.pc.close()


async def test_tap_ends_when_the_publisher_leaves(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "t")
    tap = sfu.tap("t")
    await collect(tap, 5)
    await sfu.unpublish("t")
    async with asyncio.timeout(5):
        rest = [frame async for frame in tap]
    assert len(rest) < 60
    with pytest.raises(NotLive):
        sfu.tap("t")
    await publisher.pc.close()
