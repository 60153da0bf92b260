"""A WHEP viewer in a process of its own, so a test can freeze it (SIGSTOP), kill it, or run it
on another host (`ip netns exec`).

    python -m tests.signaling.support.viewer_process BASE_URL STREAM_ID TOKEN PRICE [ADDRESS]

Prints ``connected`` once the answer is applied, then ``frames N disorder D`` after every 10
decoded frames (D: frames whose number did not follow the previous one's, the pattern counting
up), and ``ended`` when its connection fails or closes or the server ends its tracks, then
exits. Otherwise it watches until killed. Its ICE gathers on ADDRESS only (default 127.0.0.1, as
the in-process test peers do).
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import aioice.ice

from tests.support.rtc_peers import BITS, Viewer, accept_answer, viewer_peer


def disorder(numbers: list[int]) -> int:
    """Frames not counting up from the one before (frames may be skipped, never go back)."""
    wrap = 1 << BITS
    return sum(
        not 0 < (number - before) % wrap < wrap // 2
        for before, number in zip(numbers, numbers[1:], strict=False)
    )


def ended(viewer: Viewer) -> bool:
    return viewer.ended.is_set() or viewer.pc.connectionState in ("failed", "closed")


async def watch(base: str, stream_id: str, token: str, price: str, address: str) -> None:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]
    viewer = await viewer_peer(audio=True)
    headers = {
        "Content-Type": "application/sdp",
        "Authorization": f"Bearer {token}",
        "Vilokanam-Price": price,
    }
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{base}/whep/{stream_id}", headers=headers, data=viewer.pc.localDescription.sdp
        )
        assert response.status == 201, await response.text()
        await accept_answer(viewer.pc, await response.text())
    print("connected", flush=True)
    reported = 0
    while not ended(viewer):
        await asyncio.sleep(0.05)
        if viewer.decoded >= reported + 10:
            reported = viewer.decoded
            print(f"frames {reported} disorder {disorder(viewer.numbers)}", flush=True)
    print("ended", flush=True)
    await viewer.close()


if __name__ == "__main__":
    base, stream_id, token, price, *rest = sys.argv[1:]
    asyncio.run(watch(base, stream_id, token, price, rest[0] if rest else "127.0.0.1"))
