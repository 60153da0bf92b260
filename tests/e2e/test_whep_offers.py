"""Chromium's WHEP offers of any m-line layout are answered (issue 10 item 15).

An aiortc publisher sends video only; Chromium asks for the layouts players use (audio then
video, video only, video plus a data channel). The answer rejects what the stream cannot serve
with port 0 and Chromium plays the video.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.support.api import new_stream
from tests.e2e.support.browser import CHROMIUM, MEDIA_TIMEOUT_MS, open_page
from tests.support.rtc_peers import accept_answer, publisher_peer

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(180),
    pytest.mark.usefixtures("loopback"),
]

WATCH = """async ([streamId, token, kinds, dataChannel]) => {
  const pc = new RTCPeerConnection({ bundlePolicy: 'balanced' });
  for (const kind of kinds) pc.addTransceiver(kind, { direction: 'recvonly' });
  if (dataChannel) pc.createDataChannel('chat');
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  pc.ontrack = (event) => {
    if (event.track.kind === 'video') video.srcObject = new MediaStream([event.track]);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
    setTimeout(resolve, 3000);
  });
  const response = await fetch(`/whep/${streamId}`, { method: 'POST', body: pc.localDescription.sdp,
    headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` } });
  const answer = await response.text();
  if (response.status !== 201) return { status: response.status, answer };
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  window.watched = { pc, video };
  return { status: response.status, answer };
}"""


@pytest.mark.parametrize(
    ("kinds", "data_channel"),
    [(["audio", "video"], False), (["video"], False), (["video"], True)],
    ids=["audio then video", "video only", "video and a data channel"],
)
async def test_chromium_whep_offers_are_answered_and_play(
    server: str, browser: object, kinds: list[str], data_channel: bool
) -> None:
    stream = await new_stream(server, "Video only")
    pc, _track = await publisher_peer(audio=False)
    async with aiohttp.ClientSession(server) as http:
        published = await http.post(
            f"/whip/{stream['id']}",
            data=pc.localDescription.sdp,
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {stream['stream_key']}",
            },
        )
        assert published.status == 201
        await accept_answer(pc, await published.text())
        login = await http.post("/api/dev/login", json={"uri": "//Ferdie"})
        token = (await login.json())["token"]
    page = await open_page(browser, f"{server}/")
    result = await page.evaluate(WATCH, [stream["id"], token, kinds, data_channel])
    assert result["status"] == 201, result["answer"]
    ports = [line.split()[:2] for line in result["answer"].splitlines() if line.startswith("m=")]
    served = {"m=video"}
    assert all((port != "0") is (kind in served) for kind, port in ports), ports
    await page.wait_for_function(
        "() => window.watched.pc.connectionState === 'connected'"
        " && window.watched.video.getVideoPlaybackQuality().totalVideoFrames > 10",
        timeout=MEDIA_TIMEOUT_MS,
    )
    await pc.close()
