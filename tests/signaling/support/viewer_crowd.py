"""Many decoding WHEP viewers in one process, driven by JSON lines on stdin (cluster tests).

    python -m tests.signaling.support.viewer_crowd BASE_URL STREAM_ID TOKEN

Commands (one JSON object a line), each answered by one JSON line on stdout:
- {"op": "join", "count": N}: N more viewers, each WHEP on a new connection to BASE_URL (so the
  kernel spreads them over the nodes sharing the port) → {"joined": N}.
- {"op": "report"} → {"viewers": [...]}: per viewer its session URL and ETag, the ICE ufrag of
  its offer, the port of the answer's ICE candidate (the serving node's media port), frames
  decoded, whether every decoded frame number followed the previous one in order, garbled
  frames, its reconnects, and when (time.time()) its current session decoded its first frame.

A viewer whose frames stop for STALL_S (its node died, or its session was deleted) closes its peer
and joins again through BASE_URL, as the watch page does. Its ICE uses 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import aioice.ice
import av

from tests.support.rtc_peers import BITS, Viewer, accept_answer, viewer_peer

STALL_S = 1.5  # no frame for this long after frames came: the session is gone
FIRST_FRAME_S = 4.0  # a new session that decoded nothing for this long is given up too
WRAP = 1 << BITS  # the publisher's frame numbers wrap there


class OrderedViewer(Viewer):
    """A test viewer that checks the order of the frame numbers it decodes."""

    in_order: bool = True
    first_frame_at: float | None = None  # time.time() of the first decoded frame
    last_frame_at: float = 0.0

    def on_video_frame(self, frame: av.VideoFrame) -> None:
        count = len(self.numbers)
        super().on_video_frame(frame)
        if count and len(self.numbers) > count:
            step = (self.numbers[-1] - self.numbers[-2]) % WRAP
            self.in_order &= 0 < step < WRAP // 2
        self.last_frame_at = time.time()
        if self.first_frame_at is None:
            self.first_frame_at = self.last_frame_at


@dataclass
class Seat:
    """One viewer's place in the crowd, across its reconnects."""

    peer: OrderedViewer | None = None
    location: str = ""
    etag: str = ""
    port: int = 0
    decoded: int = 0  # by its earlier sessions
    in_order: bool = True
    reconnects: int = 0
    joined_at: float = 0.0
    joining: bool = False

    def report(self) -> dict[str, Any]:
        peer = self.peer
        decoded = self.decoded + (peer.decoded if peer else 0)
        sdp = peer.pc.localDescription.sdp if peer else ""
        ufrag = next((x[12:] for x in sdp.splitlines() if x.startswith("a=ice-ufrag:")), "")
        return {
            "location": self.location,
            "etag": self.etag,
            "ufrag": ufrag,
            "port": self.port,
            "decoded": decoded,
            "in_order": self.in_order and (peer is None or peer.in_order),
            "garbled": peer.garbled if peer else 0,
            "reconnects": self.reconnects,
            "resumed_at": peer.first_frame_at if peer else None,  # the current session's
        }


def candidate_port(sdp: str) -> int:
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            return int(line.split()[5])
    return 0


class Crowd:
    def __init__(self, base: str, stream_id: str, token: str) -> None:
        self.base, self.stream_id, self.token = base, stream_id, token
        self.seats: list[Seat] = []

    async def join(self, seat: Seat) -> None:
        peer = await viewer_peer(kind=OrderedViewer)
        headers = {"Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"}
        connector = aiohttp.TCPConnector(force_close=True)  # a new connection: any node
        async with aiohttp.ClientSession(connector=connector) as http:
            url = f"{self.base}/whep/{self.stream_id}"
            async with http.post(url, headers=headers, data=peer.pc.localDescription.sdp) as resp:
                if resp.status != 201:
                    await peer.close()
                    raise RuntimeError(f"WHEP {resp.status}: {await resp.text()}")
                answer = await resp.text()
                seat.location = resp.headers["Location"]
                seat.etag = resp.headers.get("ETag", "")
        seat.port = candidate_port(answer)
        seat.peer, seat.joined_at = peer, time.time()
        await accept_answer(peer.pc, answer)

    async def rejoin(self, seat: Seat) -> None:
        """The session stalled: close it and watch again through the shared port."""
        old = seat.peer
        seat.joining, seat.peer = True, None
        if old is not None:
            seat.decoded += old.decoded
            seat.in_order &= old.in_order
            await old.close()
        seat.reconnects += 1
        try:
            while True:
                try:
                    await self.join(seat)
                    return
                except (RuntimeError, aiohttp.ClientError):
                    await asyncio.sleep(0.3)  # e.g. 503 while the stream's relay opens
        finally:
            seat.joining = False

    async def watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            now = time.time()
            for seat in self.seats:
                peer = seat.peer
                if seat.joining or peer is None:
                    continue
                stalled = (
                    now - peer.last_frame_at > STALL_S
                    if peer.last_frame_at
                    else now - seat.joined_at > FIRST_FRAME_S
                )
                if stalled:
                    seat.joining = True
                    asyncio.ensure_future(self.rejoin(seat))


async def serve(base: str, stream_id: str, token: str) -> None:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    crowd = Crowd(base, stream_id, token)
    watchdog = asyncio.ensure_future(crowd.watchdog())
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if command["op"] == "join":
            seats = [Seat() for _ in range(command["count"])]
            await asyncio.gather(*(crowd.join(seat) for seat in seats))
            crowd.seats += seats
            reply: dict[str, Any] = {"joined": len(seats)}
        else:
            reply = {"viewers": [seat.report() for seat in crowd.seats]}
        print(json.dumps(reply), flush=True)
    watchdog.cancel()


if __name__ == "__main__":
    asyncio.run(serve(*sys.argv[1:4]))
