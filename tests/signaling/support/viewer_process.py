"""A WHEP viewer in a process of its own, so a test can freeze it (SIGSTOP) or kill it.

    python -m tests.signaling.support.viewer_process BASE_URL STREAM_ID TOKEN PRICE

Prints ``connected`` once the answer is applied, then ``frames N`` after every 10 decoded
frames, and watches until killed. Its ICE uses 127.0.0.1 only, as the in-process test peers do.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import aioice.ice

from tests.support.rtc_peers import accept_answer, viewer_peer


async def watch(base: str, stream_id: str, token: str, price: str) -> None:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
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
    while True:
        await asyncio.sleep(0.05)
        if viewer.decoded >= reported + 10:
            reported = viewer.decoded
            print(f"frames {reported}", flush=True)


if __name__ == "__main__":
    asyncio.run(watch(*sys.argv[1:5]))
