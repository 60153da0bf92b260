"""The soak's media clients, one per process: a WHIP publisher and a WHEP viewer (real aiortc).

    python -m tests.billing.support.soak_clients publish URL STREAM_ID STREAM_KEY
    python -m tests.billing.support.soak_clients watch URL STREAM_ID TOKEN PRICE REPORT_FILE

Both keep their session up across server restarts: when the server stops answering its health
check (it was killed) or the peer connection fails, they drop the session and start a new one.
SIGTERM ends the session with a DELETE, as a player does when closed.

The viewer appends one JSON line to REPORT_FILE per wall-clock second of media it received, audio
or video: `{"stream": …, "second": …}`. The soak compares those seconds with the seconds it was
charged for (a viewer may be charged only for seconds it received). A frame's second is the one
it was sent in, read from its RTP timestamp (anchored at the track's first frame), not the one it
arrived in: packets a frozen viewer's socket held arrive in one burst after the thaw, yet they are
seconds of media the viewer received and acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path

import aiohttp
import av
from aiortc import RTCPeerConnection

from tests.support.rtc_peers import Viewer, accept_answer, publisher_peer, viewer_peer

SDP = {"Content-Type": "application/sdp"}
PRICE_HEADER = "Vilokanam-Price"  # the price the viewer accepted (issue 10 item 6)
HEALTH_EVERY_S = 0.5
RETRY_S = 1.0


def loopback_only() -> None:
    """aioice leaves 127.0.0.1 out of host candidates: put it back for this process."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class ReportingViewer(Viewer):
    """A viewer that records the wall-clock seconds of media it received (by send time)."""

    report: Path
    stream_id: str

    anchors: dict[str, float] | None = None  # per kind: wall clock minus media time
    reported: set[int] | None = None

    def _received(self, kind: str, frame: av.AudioFrame | av.VideoFrame) -> None:
        if frame.pts is None or frame.time_base is None:
            return
        if self.anchors is None or self.reported is None:
            self.anchors, self.reported = {}, set()  # the dataclass __init__ is Viewer's
        media_time = float(frame.pts * frame.time_base)
        anchor = self.anchors.setdefault(kind, time.time() - media_time)
        second = int(anchor + media_time)
        if second not in self.reported:
            self.reported.add(second)
            with self.report.open("a") as out:
                out.write(json.dumps({"stream": self.stream_id, "second": second}) + "\n")

    def on_audio_frame(self, frame: av.AudioFrame) -> None:
        super().on_audio_frame(frame)
        self._received("audio", frame)

    def on_video_frame(self, frame: av.VideoFrame) -> None:
        self._received("video", frame)  # not read_pattern: which frame it was does not matter


async def healthy(http: aiohttp.ClientSession) -> bool:
    try:
        async with http.get("/api/health", timeout=aiohttp.ClientTimeout(total=2)) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def hold(
    http: aiohttp.ClientSession,
    pc: RTCPeerConnection,
    stop: asyncio.Event,
    ended: asyncio.Event | None = None,
) -> None:
    """Return when the session is over: stop asked, media ended, peer failed or server gone."""
    while not stop.is_set() and not (ended and ended.is_set()):
        if pc.connectionState in ("failed", "closed"):
            return
        if not await healthy(http):
            return
        try:
            await asyncio.wait_for(stop.wait(), HEALTH_EVERY_S)
        except TimeoutError:
            pass


async def delete(http: aiohttp.ClientSession, location: str, headers: dict[str, str]) -> None:
    try:
        async with http.delete(location, headers=headers, timeout=aiohttp.ClientTimeout(total=3)):
            pass
    except (aiohttp.ClientError, TimeoutError):
        pass


async def publish(url: str, stream_id: str, key: str, stop: asyncio.Event) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(url) as http:
        while not stop.is_set():
            pc, _ = await publisher_peer("VP8", audio=True)
            location = None
            try:
                async with http.post(
                    f"/whip/{stream_id}", data=pc.localDescription.sdp, headers={**SDP, **auth}
                ) as response:
                    if response.status == 201:
                        location = response.headers["Location"]
                        await accept_answer(pc, await response.text())
                if location:
                    await hold(http, pc, stop)
                    if stop.is_set():
                        await delete(http, location, auth)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            finally:
                await pc.close()
            if not stop.is_set():
                await asyncio.sleep(RETRY_S)


async def watch(
    url: str, stream_id: str, token: str, price: str, report: Path, stop: asyncio.Event
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(url) as http:
        while not stop.is_set():
            viewer = await viewer_peer(audio=True, kind=ReportingViewer)
            viewer.report, viewer.stream_id = report, stream_id
            location, status = None, 0
            try:
                async with http.post(
                    f"/whep/{stream_id}",
                    data=viewer.pc.localDescription.sdp,
                    headers={**SDP, **auth, PRICE_HEADER: price},
                ) as response:
                    status = response.status
                    if status == 201:
                        location = response.headers["Location"]
                        await accept_answer(viewer.pc, await response.text())
                if location:
                    await hold(http, viewer.pc, stop, viewer.ended)
                    if stop.is_set():
                        await delete(http, location, auth)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            finally:
                await viewer.close()
            if not stop.is_set():
                # 402: out of balance (a top-up may come); 409: not live yet; others: retry.
                await asyncio.sleep(2 * RETRY_S if status == 402 else RETRY_S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    roles = parser.add_subparsers(dest="role", required=True)
    pub = roles.add_parser("publish")
    pub.add_argument("url")
    pub.add_argument("stream_id")
    pub.add_argument("key")
    view = roles.add_parser("watch")
    view.add_argument("url")
    view.add_argument("stream_id")
    view.add_argument("token")
    view.add_argument("price")
    view.add_argument("report", type=Path)
    args = parser.parse_args()
    loopback_only()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if args.role == "publish":
            await publish(args.url, args.stream_id, args.key, stop)
        else:
            await watch(args.url, args.stream_id, args.token, args.price, args.report, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
