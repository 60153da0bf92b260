"""A WHIP publisher in a process of its own, to run on a host (`ip netns exec`) and reconnect.

    python -m tests.interop.support.publisher_process ADDRESS STREAM_ID STREAM_KEY

Reads server base URLs from stdin, one a line: for each it drops its current connection (if
any) and publishes anew there, as OBS does when told to reconnect: the numbered pattern of
tests/support/rtc_peers.py and a tone, over a fresh WHIP session. Prints ``published BASE``
or ``refused BASE STATUS BODY``, and ``state STATE`` on each connection state change. Its ICE
gathers on ADDRESS only. Exits when stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import aioice.ice
from aiortc import RTCPeerConnection

from tests.support.rtc_peers import accept_answer, publisher_peer


async def publish(
    http: aiohttp.ClientSession, base: str, stream_id: str, key: str
) -> RTCPeerConnection:
    pc, _track = await publisher_peer(audio=True)

    @pc.on("connectionstatechange")
    def on_state() -> None:
        print(f"state {pc.connectionState}", flush=True)

    headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {key}"}
    response = await http.post(
        f"{base}/whip/{stream_id}", headers=headers, data=pc.localDescription.sdp
    )
    body = await response.text()
    if response.status != 201:
        print(f"refused {base} {response.status} {body[:300]!r}", flush=True)
        return pc
    await accept_answer(pc, body)
    print(f"published {base}", flush=True)
    return pc


async def main(address: str, stream_id: str, key: str) -> None:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [address]
    lines = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)
    current: RTCPeerConnection | None = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        while line := (await lines.readline()).decode().strip():
            if current is not None:
                await current.close()
            try:
                current = await publish(http, line, stream_id, key)
            except (aiohttp.ClientError, TimeoutError) as exc:
                print(f"refused {line} 0 {exc!r}", flush=True)
    if current is not None:
        await current.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
