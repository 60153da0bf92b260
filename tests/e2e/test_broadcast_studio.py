"""The broadcast page as a creator's studio (issue 14 item 9), in Chromium at 1280 and 390 px.

Chromium's fake camera (a moving test picture) and microphone (a beep) stand in for real ones.
Before going live: a playing preview and device pickers. Live: a counting timer, health figures
from getStats, mute toggles that turn what a WHEP viewer decodes black without a new
negotiation, and a Stop that asks first. The OBS panel: the WHIP URL and the masked key with copy
buttons, and a key rotation after which the old key gets 401 on WHIP and the new one 201.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiohttp
import av
import pytest

from tests.e2e.support.api import new_stream, wait_for
from tests.e2e.support.browser import (
    CHROMIUM,
    MEDIA_TIMEOUT_MS,
    SCREENSHOTS,
    dev_sign_in,
    open_page,
    stop_broadcast,
)
from tests.signaling.support.webrtc_clients import PRICE_HEADER, SDP, publisher_offer
from tests.support.rtc_peers import Viewer, accept_answer, viewer_peer

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(180),
]
playwright_api = pytest.importorskip("playwright.async_api")

SIZES = [("desktop", 1280, 800), ("phone", 390, 844)]
DARK = 20.0  # mean luma (0-255) below which a decoded frame is black: the fake camera is ~100+
LOUD, QUIET = 10_000, 10  # 16-bit peaks: the fake microphone beeps at full scale every 0.5 s


@dataclass
class LumaViewer(Viewer):
    """A WHEP viewer that keeps the mean brightness of every decoded frame."""

    lumas: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)  # loudest sample of each audio frame

    def on_audio_frame(self, frame: av.AudioFrame) -> None:
        super().on_audio_frame(frame)
        self.peaks.append(int(abs(frame.to_ndarray().astype("int32")).max()))

    def on_video_frame(self, frame: av.VideoFrame) -> None:
        self.lumas.append(float(frame.to_ndarray(format="gray").mean()))

    @property
    def decoded(self) -> int:
        return len(self.lumas)

    async def wait_for_luma(self, dark: bool, frames: int = 5) -> None:
        """Wait until the last `frames` decoded frames are all dark (or all bright)."""

        async def seen() -> bool:
            last = self.lumas[-frames:]
            return len(last) == frames and all((luma < DARK) == dark for luma in last)

        await wait_for(seen, 20)

    async def wait_for_sound(self, loud: bool, since: int = 0, frames: int = 50) -> None:
        """Wait until the last `frames` audio frames (1 s) from frame `since` on hold a beep,
        or are all silent."""

        async def heard() -> bool:
            last = self.peaks[max(since, len(self.peaks) - frames) :]
            return len(last) == frames and (max(last) > LOUD if loud else max(last) <= QUIET)

        await wait_for(heard, 20)


async def watch_over_whep(server: str, stream_id: str) -> tuple[LumaViewer, str]:
    """//Bob watching the (free) stream with an aiortc peer; the viewer and its session URL."""
    viewer = await viewer_peer(audio=True, kind=LumaViewer)
    async with aiohttp.ClientSession(server) as http:
        login = await (await http.post("/api/dev/login", json={"uri": "//Bob"})).json()
        response = await http.post(
            f"/whep/{stream_id}",
            data=viewer.pc.localDescription.sdp,
            headers={**SDP, PRICE_HEADER: "0", "Authorization": f"Bearer {login['token']}"},
        )
        assert response.status == 201, await response.text()
        await accept_answer(viewer.pc, await response.text())
        assert isinstance(viewer, LumaViewer)
        return viewer, response.headers["Location"]


async def stream_status(server: str, stream_id: str) -> str:
    async with aiohttp.ClientSession(server) as http:
        return str((await (await http.get(f"/api/streams/{stream_id}")).json())["status"])


async def studio(browser: object, server: str, width: int, height: int) -> tuple[object, dict]:
    """//Alice's new stream on its broadcast page, signed in, at the given size."""
    stream = await new_stream(server, "Studio check")
    page = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await page.set_viewport_size({"width": width, "height": height})
    await dev_sign_in(page, "//Alice")
    return page, stream


async def no_overflow_and_screenshot(page: object, name: str) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def preview_playing(page: object) -> None:
    await page.wait_for_function(
        """() => { const v = document.getElementById('preview');
                   return v.videoWidth > 0 && !v.paused && v.currentTime > 0.5; }""",
        timeout=MEDIA_TIMEOUT_MS,
    )


async def track_enabled(page: object, kind: str) -> bool:
    return bool(
        await page.evaluate(
            f"""() => document.getElementById('preview').srcObject
                .getTracks().find((t) => t.kind === '{kind}').enabled"""
        )
    )


@pytest.mark.parametrize(("name", "width", "height"), SIZES)
async def test_preview_devices_timer_health_mutes_and_a_stop_that_asks_first(
    server: str, browser: object, name: str, width: int, height: int
) -> None:
    page, stream = await studio(browser, server, width, height)

    # Before going live: the camera plays in the preview and the pickers name the devices.
    await preview_playing(page)
    assert await stream_status(server, stream["id"]) == "pending"
    cameras = await page.get_by_label("Camera", exact=True).locator("option").all_inner_texts()
    microphones = (
        await page.get_by_label("Microphone", exact=True).locator("option").all_inner_texts()
    )
    assert cameras and all("fake" in label.lower() for label in cameras), cameras
    assert len(microphones) >= 2 and all("fake" in m.lower() for m in microphones), microphones
    # Another microphone before going live: the preview keeps playing with it.
    await page.get_by_label("Microphone", exact=True).select_option(label=microphones[-1])
    await page.wait_for_function(
        f"""() => document.getElementById('preview').srcObject.getAudioTracks()[0].label
                  === {microphones[-1]!r}"""
    )
    assert await page.locator("#on-air").is_hidden()

    offers: list[str] = []
    page.on("request", lambda r: offers.append(r.url) if r.method in ("POST", "PATCH") else None)
    await page.get_by_label("Stream key").fill(stream["stream_key"])
    await page.get_by_role("button", name="Go live").click()
    await (
        page.locator("#publish-status")
        .filter(has_text="You are live")
        .wait_for(timeout=MEDIA_TIMEOUT_MS)
    )

    # The timer counts and the health figures come from getStats.
    timer = page.locator("#live-timer")
    await timer.filter(has_text="0:00:02").wait_for(timeout=MEDIA_TIMEOUT_MS)
    bitrate = page.locator("#health-bitrate")
    await page.wait_for_function(
        "() => Number(document.getElementById('health-bitrate').dataset.bps) > 50000",
        timeout=MEDIA_TIMEOUT_MS,
    )
    assert (await bitrate.inner_text()).endswith("bit/s")
    await page.locator("#health-rtt").filter(has_text=" ms").wait_for(timeout=MEDIA_TIMEOUT_MS)
    await page.locator("#health-loss").filter(has_text=" %").wait_for(timeout=MEDIA_TIMEOUT_MS)

    # Mute the camera: the same connection sends black frames, the viewer keeps decoding.
    viewer, _ = await watch_over_whep(server, stream["id"])
    try:
        await viewer.wait_for_luma(dark=False)
        mute_camera = page.get_by_role("button", name="Mute camera")
        await mute_camera.click()
        assert await mute_camera.get_attribute("aria-pressed") == "true"
        assert not await track_enabled(page, "video")
        await viewer.wait_for_luma(dark=True)
        frames = viewer.decoded
        await viewer.wait_frames(10)  # frames keep coming while muted
        assert viewer.decoded >= frames + 10
        await mute_camera.click()
        assert await mute_camera.get_attribute("aria-pressed") == "false"
        await viewer.wait_for_luma(dark=False)

        # Another microphone while live: swapped in by replaceTrack, the beeps keep coming.
        await viewer.wait_for_sound(loud=True)
        await page.get_by_label("Microphone", exact=True).select_option(label=microphones[0])
        await page.wait_for_function(
            f"""() => document.getElementById('preview').srcObject.getAudioTracks()[0].label
                      === {microphones[0]!r}"""
        )
        await viewer.wait_for_sound(loud=True, since=len(viewer.peaks))

        mute_microphone = page.get_by_role("button", name="Mute microphone")
        await mute_microphone.click()
        await viewer.wait_for_sound(loud=False)
    finally:
        await viewer.close()
    assert await mute_microphone.get_attribute("aria-pressed") == "true"
    assert not await track_enabled(page, "audio")
    assert await track_enabled(page, "video")
    # Mutes and the device change went without a new offer: one WHIP POST, no PATCH.
    assert [url for url in offers if "/whip/" in url] == [f"{server}/whip/{stream['id']}"]
    await no_overflow_and_screenshot(page, f"broadcast-studio-live-{name}")

    # A device that goes away (unplugged: its track ends) is reported.
    await page.evaluate(
        """() => document.getElementById('preview').srcObject.getVideoTracks()[0]
                 .dispatchEvent(new Event('ended'))"""
    )
    await page.locator("#publish-status").filter(has_text="The camera stopped").wait_for()

    # Stop asks first; "Keep streaming" keeps it live.
    await page.get_by_role("button", name="Stop", exact=True).click()
    dialog = page.get_by_role("dialog", name="Stop the broadcast?")
    await dialog.wait_for()
    await no_overflow_and_screenshot(page, f"broadcast-stop-confirm-{name}")
    await dialog.get_by_role("button", name="Keep streaming").click()
    await dialog.wait_for(state="hidden")
    await asyncio.sleep(1.5)
    assert await stream_status(server, stream["id"]) == "live"
    assert await page.get_by_role("button", name="Stop", exact=True).is_enabled()
    await stop_broadcast(page)
    await page.locator("#publish-status").filter(has_text="Broadcast stopped").wait_for()

    async def ended() -> bool:
        return await stream_status(server, stream["id"]) == "ended"

    await wait_for(ended, 10)
    assert await page.locator("#on-air").is_hidden()
    await page.context.close()


async def whip_status(server: str, stream_id: str, key: str) -> tuple[int, str | None]:
    """A real WHIP POST (an aiortc offer) with `key`: its status and session URL."""
    pc, _, offer = await publisher_offer()
    try:
        async with aiohttp.ClientSession(server) as http:
            response = await http.post(
                f"/whip/{stream_id}", data=offer, headers={**SDP, "Authorization": f"Bearer {key}"}
            )
            location = response.headers.get("Location")
            if response.status == 201 and location:
                await http.delete(location, headers={"Authorization": f"Bearer {key}"})
            return response.status, location
    finally:
        await pc.close()


@pytest.mark.parametrize(("name", "width", "height"), SIZES)
async def test_the_obs_panel_copies_the_url_and_key_and_rotates_the_key(
    server: str,
    browser: object,
    name: str,
    width: int,
    height: int,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    page, stream = await studio(browser, server, width, height)
    # Granting replaces every permission of the origin: the camera's too.
    await page.context.grant_permissions(
        ["camera", "microphone", "clipboard-read", "clipboard-write"], origin=server
    )
    await preview_playing(page)
    old_key = stream["stream_key"]
    whip_url = f"{server}/whip/{stream['id']}"
    panel = page.get_by_role("region", name="Stream from OBS or GStreamer")
    await panel.get_by_text("Settings → Stream → Service WHIP").wait_for()
    assert await page.locator("#obs-whip-url").inner_text() == whip_url
    settings = await page.locator("#encoder-settings").inner_text()
    for advice in ("H.264", "baseline", "VP8", "Keyframe interval: 1 s", "no B-frames", "Opus"):
        assert advice in settings

    stranger = await open_page(browser, f"{server}/broadcast/{stream['id']}")
    await stranger.locator("#title").filter(has_text="Studio check").wait_for()
    await stranger.locator("#obs-whip-url").filter(has_text=whip_url).wait_for()
    assert await stranger.get_by_role("button", name="Rotate key").is_hidden()  # not signed in
    await stranger.context.close()

    await page.get_by_label("Stream key").fill(old_key)
    key = page.locator("#obs-key")
    assert old_key not in await key.inner_text()  # masked until "Show"
    assert set(await key.inner_text()) == {"•"}
    clipboard = "() => navigator.clipboard.readText()"
    await panel.get_by_role("button", name="Copy URL").click()
    await page.locator("#obs-status").filter(has_text="WHIP URL copied").wait_for()
    assert await page.evaluate(clipboard) == whip_url
    await panel.get_by_role("button", name="Copy key").click()
    await page.locator("#obs-status").filter(has_text="Stream key copied").wait_for()
    assert await page.evaluate(clipboard) == old_key
    await panel.get_by_role("button", name="Show").click()
    assert await key.inner_text() == old_key
    await panel.get_by_role("button", name="Hide").click()
    assert old_key not in await key.inner_text()
    await no_overflow_and_screenshot(page, f"broadcast-obs-panel-{name}")

    # Rotating asks first; "Cancel" keeps the key.
    rotate = panel.get_by_role("button", name="Rotate key")
    dialog = page.get_by_role("dialog", name="Make a new key?")
    await rotate.click()
    await dialog.get_by_role("button", name="Cancel").click()
    await dialog.wait_for(state="hidden")
    assert await page.get_by_label("Stream key").input_value() == old_key
    await rotate.click()
    await dialog.get_by_role("button", name="Make a new key").click()
    await page.locator("#obs-status").filter(has_text="New key made").wait_for()
    new_key = await page.get_by_label("Stream key").input_value()
    assert new_key != old_key and new_key.startswith("vks_")
    await panel.get_by_role("button", name="Show").click()
    assert await key.inner_text() == new_key

    assert (await whip_status(server, stream["id"], old_key))[0] == 401
    status, location = await whip_status(server, stream["id"], new_key)
    assert status == 201 and location
    await no_overflow_and_screenshot(page, f"broadcast-obs-rotated-{name}")

    # The page goes live with the new key; rotating again while live ends its broadcast.
    await page.get_by_role("button", name="Go live").click()
    live = page.locator("#publish-status").filter(has_text="You are live")
    await live.wait_for(timeout=MEDIA_TIMEOUT_MS)
    await rotate.click()
    await dialog.get_by_role("button", name="Make a new key").click()
    await page.locator("#publish-status").filter(has_text="The broadcast was ended").wait_for()
    assert await stream_status(server, stream["id"]) == "ended"
    newest_key = await page.get_by_label("Stream key").input_value()
    assert newest_key not in (old_key, new_key)
    assert await page.get_by_role("button", name="Go live").is_enabled()
    await page.context.close()

    # The server logged the rotation and both WHIP requests, and no key in any line.
    logs = caplog.text + "".join(capsys.readouterr())
    assert newest_key not in logs
    assert f"path=/api/streams/{stream['id']}/key status=200" in logs
    assert f"path=/whip/{stream['id']} status=401" in logs
    assert f"path=/whip/{stream['id']} status=201" in logs
    assert old_key not in logs and new_key not in logs
