"""A WHEP viewer (real aiortc peer) that decodes everything and checks for the colour bars."""

from __future__ import annotations

from dataclasses import dataclass, field

import av
from aiohttp.test_utils import TestClient

from tests.interop.support.colour_bars import shows_smpte_bars
from tests.support.rtc_peers import Viewer, accept_answer, viewer_peer


@dataclass
class BarsViewer(Viewer):
    video_frames: int = 0
    bars_frames: int = 0  # decoded frames that show the publisher's SMPTE colour bars
    sizes: set[tuple[int, int]] = field(default_factory=set)

    def on_video_frame(self, frame: av.VideoFrame) -> None:
        self.video_frames += 1
        self.sizes.add((frame.width, frame.height))
        self.bars_frames += shows_smpte_bars(frame.to_ndarray(format="rgb24"))

    @property
    def decoded(self) -> int:
        return self.video_frames


async def watch(client: TestClient, stream_id: str, headers: dict[str, str]) -> BarsViewer:
    """Start watching ``stream_id`` over WHEP (audio and video, receive only)."""
    viewer = await viewer_peer(audio=True, kind=BarsViewer)
    response = await client.post(
        f"/whep/{stream_id}",
        data=viewer.pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp", **headers},
    )
    assert response.status == 201, await response.text()
    viewer.answer = await response.text()
    await accept_answer(viewer.pc, viewer.answer)
    return viewer
