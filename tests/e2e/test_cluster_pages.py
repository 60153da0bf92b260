"""The watch page in headless Chromium across nodes: it follows a full node's redirect (with
its ticket, and the session URL of the node that answered) and moves when told to reconnect."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from signaling.config import AppConfig
from signaling.keys import LIVE, REGISTRY
from signaling.realtime.context import notify_viewer
from signaling.runtime.node_liveness import card
from tests.e2e.support.browser import (
    CHROMIUM,
    MEDIA_TIMEOUT_MS,
    dev_sign_in,
    open_page,
    signed_in_user,
    wait_playing,
)
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.cluster import cluster
from tests.signaling.support.webrtc_clients import whep, whip
from tests.support.configs import configured

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed (apt-get install -y chromium)",
    ),
    pytest.mark.timeout(180),
    pytest.mark.usefixtures("loopback"),
]
pytest.importorskip("playwright.async_api")


async def test_the_watch_page_follows_a_full_node_to_another_and_moves_when_told(
    app_config: AppConfig, redis: object, browser: object
) -> None:
    config = configured(app_config, dev_mode=True, node_max_viewers=1)
    async with cluster(config) as (a, b):
        creator = await new_user(a, creator=True)
        on_a, on_b = await new_stream(a, creator), await new_stream(a, creator)
        broadcasts = [
            await whip(a, on_a["id"], on_a["stream_key"]),
            await whip(b, on_b["id"], on_b["stream_key"]),
        ]
        filler, _ = await whep(a, on_a["id"], await new_user(a))
        await filler.wait_frames(3)  # A's one viewer: A is full
        for node in (a, b):
            await node.app[REGISTRY].beat(card(node.app))

        a_url = str(a.make_url("")).rstrip("/")
        page = await open_page(browser, f"{a_url}/watch/{on_b['id']}")
        await dev_sign_in(page, "//Ferdie")
        await wait_playing(page)  # redirected to B, where the stream is
        sfu = b.app[LIVE].sfu
        [first] = sfu.subscribers(on_b["id"])

        # Told to reconnect (B draining): a new session, status line shown meanwhile.
        user = await signed_in_user(page)
        message = {"type": "reconnect", "reason": "node_draining"}
        await notify_viewer(b.app, uuid.UUID(on_b["id"]), uuid.UUID(user["id"]), message)
        for _ in range(200):  # within 10 s (about 1 s idle; a loaded 2-core `make test` is slower)
            if sfu.subscribers(on_b["id"]) not in ([], [first]):
                break
            await asyncio.sleep(0.05)
        assert sfu.subscribers(on_b["id"]) not in ([], [first])
        frames = await page.evaluate(
            "() => document.getElementById('video').getVideoPlaybackQuality().totalVideoFrames"
        )
        await page.wait_for_function(
            "() => document.getElementById('video').getVideoPlaybackQuality()"
            f".totalVideoFrames > {frames + 20}",
            timeout=MEDIA_TIMEOUT_MS,
        )
        # The first session was ended by the page's DELETE on B's session URL (not A's).
        assert first not in sfu.subscribers(on_b["id"])
        await page.close()
        await filler.close()
        for node, broadcast in zip((a, b), broadcasts, strict=True):
            await broadcast.pc.close()
            await node.delete(broadcast.location)
