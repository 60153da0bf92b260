"""The player's own controls (issue 14 item 14) in headless Chromium, on a desktop and a phone.

Live (/watch, a WHIP publisher): starts muted under a "Click to unmute" overlay, a LIVE indicator
and no native seek bar, keys k/m/t/arrows, not while typing in the chat, fullscreen of the box.
VOD (/videos): j/l and the arrows seek, the seek bar follows, the quality choice still works.
Screenshots: test-output/screenshots/player-*.png.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from signaling.config import AppConfig
from signaling.keys import CONFIG
from tests.e2e.support.api import alice, new_stream
from tests.e2e.support.browser import (
    CHROMIUM,
    MEDIA_TIMEOUT_MS,
    SCREENSHOTS,
    dev_sign_in,
    open_page,
    wait_playing,
)
from tests.e2e.support.fit import SIZES, assert_fits
from tests.signaling.support.uploads import make_clip, process, upload, upload_config
from tests.signaling.support.webrtc_clients import whip

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
    pytest.mark.timeout(240),
]
pytest.importorskip("playwright.async_api")

VIDEO = """() => { const v = document.getElementById('video');
  return { muted: v.muted, paused: v.paused, volume: v.volume, time: v.currentTime,
           controls: v.hasAttribute('controls'), src: v.currentSrc }; }"""
THEATRE = "() => document.getElementById('main').classList.contains('theatre')"


async def video(page: object) -> dict:
    return await page.evaluate(VIDEO)


async def assert_touch_sized(page: object) -> None:
    """Every control of the bar is at least 44 px high (a finger, not a mouse pointer)."""
    heights = await page.evaluate(
        "() => [...document.querySelectorAll('.player-bar button')].filter((b) => b.offsetWidth)"
        ".map((b) => b.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 44, heights


async def press(page: object, key: str) -> None:
    """A key pressed on the page itself (not in a field)."""
    await page.evaluate("() => document.activeElement?.blur()")
    await page.keyboard.press(key)


async def check_live_player(page: object, size: str) -> None:
    await wait_playing(page)
    state = await video(page)
    assert state["muted"] and not state["controls"]  # autoplay muted; no native 0:00 bar
    unmute = page.get_by_role("button", name="Click to unmute")
    await unmute.wait_for()
    live = page.locator(".live-edge")
    assert (await live.inner_text()).strip() == "● LIVE" and await live.is_visible()
    await assert_fits(page, f"watch page, {size}")
    await assert_touch_sized(page)
    await page.screenshot(path=SCREENSHOTS / f"player-live-{size}.png")

    await unmute.click()
    await unmute.wait_for(state="hidden")
    assert not (await video(page))["muted"]
    mute = page.get_by_role("button", name="Mute", exact=True)
    assert await mute.get_attribute("aria-pressed") == "false"

    # Typing in the chat is typing: m and k go into the message, not to the player.
    chat = page.get_by_role("textbox", name="Your message")
    await chat.press_sequentially("mk t")
    assert await chat.input_value() == "mk t"
    state = await video(page)
    assert not state["muted"] and not state["paused"]
    assert not await page.evaluate(THEATRE)

    await press(page, "m")
    assert (await video(page))["muted"] and await mute.get_attribute("aria-pressed") == "true"
    assert await unmute.is_hidden()  # muted by choice: no overlay asking to undo it
    await page.get_by_role("slider", name="Volume").press("m")  # a focused slider: still the key
    assert not (await video(page))["muted"]
    volume = (await video(page))["volume"]
    await press(page, "ArrowDown")
    assert (await video(page))["volume"] == pytest.approx(volume - 0.1, abs=0.01)
    await press(page, "k")
    assert (await video(page))["paused"]
    await live.filter(has_text="● LIVE · paused").wait_for()
    assert await page.get_by_role("button", name="Play", exact=True).is_visible()
    await press(page, "k")
    await page.wait_for_function("() => !document.getElementById('video').paused")
    await live.filter(has_text="● LIVE").wait_for()

    theatre = page.locator(".player-theatre")  # hidden on a phone (one column already)
    assert await theatre.get_attribute("aria-label") == "Theatre mode"
    await press(page, "t")
    assert await page.evaluate(THEATRE) and await theatre.get_attribute("aria-pressed") == "true"
    await assert_fits(page, f"watch page in theatre mode, {size}")
    await page.screenshot(path=SCREENSHOTS / f"player-live-theatre-{size}.png")
    if await theatre.is_visible():
        await theatre.click()  # on a phone the page is one column already: no button, key only
    else:
        await press(page, "t")
    assert not await page.evaluate(THEATRE)

    await press(page, "?")
    help_panel = page.locator("#player-help")
    await help_panel.filter(has_text="Mute or unmute").wait_for()
    assert not await help_panel.filter(has_text="Back 5 seconds").count()  # no seeking live
    await press(page, "Escape")
    await help_panel.wait_for(state="hidden")

    await page.get_by_role("button", name="Fullscreen").click()
    await page.wait_for_function(
        "() => document.fullscreenElement?.classList.contains('player-box')"
    )
    # aria-pressed follows the fullscreenchange event, which comes after fullscreenElement is set.
    await page.get_by_role("button", name="Fullscreen", pressed=True).wait_for()
    await press(page, "f")
    await page.wait_for_function("() => document.fullscreenElement === null")


@pytest.mark.usefixtures("loopback")
async def test_the_live_player_unmutes_shows_live_and_answers_its_keys(
    app_server: TestServer, browser: object
) -> None:
    base = str(app_server.make_url("")).rstrip("/")
    stream = await new_stream(base, "Player controls, live")
    client = TestClient(app_server)  # the running server, for a WHIP publisher
    broadcast = await whip(client, stream["id"], stream["stream_key"])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for size, (width, height) in SIZES.items():
            page = await open_page(browser, f"{base}/watch/{stream['id']}")
            await page.set_viewport_size({"width": width, "height": height})
            await dev_sign_in(page, "//Bob")
            await check_live_player(page, size)
            await page.context.close()
    finally:
        await client.delete(broadcast.location)
        await broadcast.pc.close()
        await client.close()


@pytest.fixture
def app_config(app_config: AppConfig, own_database_url: str, tmp_path: Path) -> AppConfig:
    return upload_config(app_config, own_database_url, tmp_path)


async def check_vod_player(page: object, size: str) -> None:
    await page.wait_for_function(
        "() => document.getElementById('video').currentTime > 1", timeout=MEDIA_TIMEOUT_MS
    )
    assert not (await video(page))["controls"]
    # Where Chromium refuses sound without a gesture the page plays muted and offers to unmute
    # (whether it refuses is its own autoplay policy's call): the overlay is there iff muted.
    unmute = page.get_by_role("button", name="Click to unmute")
    muted = (await video(page))["muted"]
    await unmute.wait_for(state="visible" if muted else "hidden")
    await press(page, "k")
    at = (await video(page))["time"]
    assert (await video(page))["paused"]
    for key, expected in (("l", at + 5), ("j", at), ("ArrowRight", at + 5), ("ArrowLeft", at)):
        await press(page, key)
        assert (await video(page))["time"] == pytest.approx(expected, abs=0.05), key
    await page.locator(".player-time").filter(has_text=f"0:0{int(at)} / 0:08").wait_for()
    seek = page.get_by_role("slider", name="Seek")
    assert float(await seek.input_value()) == pytest.approx(at, abs=0.2)
    await seek.fill("6")
    await page.wait_for_function(
        "() => Math.abs(document.getElementById('video').currentTime - 6) < 0.1"
    )
    await page.locator(".player-time").filter(has_text="0:06 / 0:08").wait_for()

    await page.get_by_label("Quality").select_option(label="120p · 150 kbps")
    await page.wait_for_function(
        """() => { const v = document.getElementById('video');
                   return v.currentSrc.endsWith('/120p.mp4') && v.readyState >= 1
                          && Math.abs(v.currentTime - 6) < 0.5; }""",
        timeout=MEDIA_TIMEOUT_MS,
    )
    if muted:
        await unmute.wait_for()  # still muted in the other quality: still offered
        await unmute.click()
        await unmute.wait_for(state="hidden")
    assert not (await video(page))["muted"]
    await press(page, "t")
    assert await page.evaluate(THEATRE)
    await assert_fits(page, f"video page in theatre mode, {size}")
    await press(page, "t")
    await press(page, "?")
    await page.locator("#player-help").filter(has_text="Back 5 seconds").wait_for()
    await assert_fits(page, f"video page, {size}")
    await assert_touch_sized(page)
    await page.screenshot(path=SCREENSHOTS / f"player-vod-{size}.png")


async def test_the_vod_player_seeks_with_its_keys_and_keeps_the_quality_choice(
    server: str, app_server: TestServer, browser: object, own_db: asyncpg.Pool, tmp_path: Path
) -> None:
    media_root: Path = app_server.app[CONFIG].media.media_root
    async with aiohttp.ClientSession(server) as http:
        creator = await alice(http)
        clip = make_clip(tmp_path, seconds=8.0)
        video_id = await upload(http, creator, clip, title="Player controls, recorded")
        await process(own_db, media_root, video_id)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for size, (width, height) in SIZES.items():
            page = await open_page(browser, f"{server}/videos/{video_id}")
            await page.set_viewport_size({"width": width, "height": height})
            await check_vod_player(page, size)
            await page.context.close()
