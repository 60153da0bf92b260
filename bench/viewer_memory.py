"""Server memory per viewer (issue 13: <= 200 KB): where the sfu's per-viewer bytes go.

The measured process holds only the server side: an Sfu (one UDP port, 127.0.0.1) answering one
publisher and N viewers whose aiortc peers live in a client process (a 320x240 VP8 publisher,
viewers that never decode). Per N, a fresh server process measures, once media flows:
  - at 0 viewers (the baseline) and at N connected viewers: RSS (/proc/self/statm), RSS after
    malloc_trim(0) (what the allocator still holds but could give back), Python bytes traced by
    tracemalloc, asyncio tasks;
  - per viewer: the growth between the two divided by N, and the RSS growth as a ratio of the
    0-viewer process;
  - native bytes per viewer (OpenSSL, libsrtp, ...): RSS growth minus traced growth.
tracemalloc inflates RSS (a trace per block), so RSS comes from a run without it and the traced
figures (with the top allocation sites by file:line) from a second run with it.

    .venv/bin/python bench/viewer_memory.py                       # 20 and 100 viewers
    .venv/bin/python bench/viewer_memory.py --viewers 50 --top 25 --fanout python
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import logging
import multiprocessing as mp
import os
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

STREAM = "memory"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
JOINS_AT_ONCE = 8
CONNECT_TIMEOUT_S = 60.0


@dataclass
class Snapshot:
    rss_kb: int
    trimmed_rss_kb: int
    traced_kb: float
    tasks: int


@dataclass
class Run:
    viewers: int
    traced: bool
    baseline: Snapshot
    loaded: Snapshot
    sites: list[tuple[str, float, int]] = field(default_factory=list)  # (file:line, KB, blocks)
    files: list[tuple[str, float, int]] = field(default_factory=list)  # (file, KB, blocks)


# --- measurements (server process) ------------------------------------------------------------


def rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_KB


def snapshot() -> Snapshot:
    gc.collect()
    rss = rss_kb()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    traced = tracemalloc.get_traced_memory()[0] / 1024 if tracemalloc.is_tracing() else 0.0
    return Snapshot(rss, rss_kb(), traced, len(asyncio.all_tasks()))


def site_growth(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int, key: str
) -> list[tuple[str, float, int]]:
    """The ``top`` sites (``key``: "lineno" or "filename") that grew most, in KB and blocks."""
    stats = after.compare_to(before, key)
    stats.sort(key=lambda s: s.size_diff, reverse=True)
    sites = []
    for stat in stats[:top]:
        frame = stat.traceback[0]
        where = _short(frame.filename) + (f":{frame.lineno}" if key == "lineno" else "")
        sites.append((where, stat.size_diff / 1024, stat.count_diff))
    return sites


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return os.path.relpath(path)


def quiet() -> None:
    """Warnings and errors only: a log line per peer would drown the report."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


# --- server process -----------------------------------------------------------------------------


def server_main(viewers: int, traced: bool, fanout: str | None, top: int, out: Connection) -> None:
    quiet()
    if traced:
        tracemalloc.start(1)
    out.send(asdict(asyncio.run(serve(viewers, traced, fanout, top))))


async def serve(viewers: int, traced: bool, fanout: str | None, top: int) -> Run:
    from sfu import IceSettings, Sfu

    sfu = Sfu(IceSettings(host_addresses=("127.0.0.1",), udp_port=0), fanout=fanout)
    marks: dict[str, Any] = {}
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            reply = await answer_request(sfu, request, marks, viewers)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clients = mp.get_context("spawn").Process(target=clients_main, args=(port, viewers))
    clients.start()
    await done.wait()
    server.close()
    await sfu.close()
    clients.join()
    baseline, loaded = marks["baseline"], marks["viewers"]
    if not traced:
        return Run(viewers, traced, baseline[0], loaded[0])
    sites = site_growth(baseline[1], loaded[1], top, "lineno")
    files = site_growth(baseline[1], loaded[1], top, "filename")
    return Run(viewers, traced, baseline[0], loaded[0], sites, files)


async def answer_request(
    sfu: Any, request: dict[str, Any], marks: dict[str, Any], viewers: int
) -> dict[str, Any]:
    op = request["op"]
    if op == "publish":
        _, sdp = await sfu.publish(STREAM, request["sdp"])
        return {"sdp": sdp}
    if op == "view":
        _, sdp = await sfu.subscribe(STREAM, request["sdp"])
        return {"sdp": sdp}
    # op == "mark": wait for every viewer to be connected, let media flow, measure.
    expected = 0 if request["name"] == "baseline" else viewers
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while len(sfu.subscribers(STREAM, connected_only=True)) < expected:
        assert time.monotonic() < deadline, "viewers did not connect"
        await asyncio.sleep(0.1)
    await asyncio.sleep(request["settle"])
    traces = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    marks[request["name"]] = (snapshot(), traces)
    return {}


# --- client process: the publisher and the viewers' peers --------------------------------------


def clients_main(port: int, viewers: int) -> None:
    import aioice.ice

    quiet()
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    asyncio.run(run_clients(port, viewers))


async def run_clients(port: int, viewers: int) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from sfu import aiortc_hooks

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lock = asyncio.Lock()

    async def ask(request: dict[str, Any]) -> dict[str, Any]:
        async with lock:
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            reply: dict[str, Any] = json.loads(await reader.readline())
            return reply

    async def connect(pc: RTCPeerConnection, op: str) -> None:
        await pc.setLocalDescription(await pc.createOffer())
        reply = await ask({"op": op, "sdp": pc.localDescription.sdp})
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))

    async def viewer() -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = pc.addTransceiver("video", direction="recvonly")
        aiortc_hooks.disable_decoder(transceiver.receiver)  # the server's memory is measured
        await connect(pc, "view")
        return pc

    publisher = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    publisher.addTransceiver(TestCard(), direction="sendonly")
    await connect(publisher, "publish")
    settle = 3.0 + viewers / 50
    await ask({"op": "mark", "name": "baseline", "settle": settle})
    pcs: list[RTCPeerConnection] = []
    for start in range(0, viewers, JOINS_AT_ONCE):
        batch = min(JOINS_AT_ONCE, viewers - start)
        pcs += await asyncio.gather(*(viewer() for _ in range(batch)))
    await ask({"op": "mark", "name": "viewers", "settle": settle})
    for pc in [*pcs, publisher]:
        await pc.close()
    writer.close()


def TestCard() -> Any:  # noqa: N802 (builds a track class lazily: aiortc only in clients)
    import av
    import numpy as np
    from aiortc import VideoStreamTrack

    class Card(VideoStreamTrack):
        """320x240 30 fps frames that change every frame (so VP8 keeps sending)."""

        count = 0

        async def recv(self) -> av.VideoFrame:
            pts, time_base = await self.next_timestamp()
            self.count += 1
            image = np.full((240, 320), self.count % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="gray")
            frame.pts, frame.time_base = pts, Fraction(time_base)
            return frame

    return Card()


# --- report ------------------------------------------------------------------------------------


def measure(viewers: int, traced: bool, fanout: str | None, top: int) -> Run:
    receive, send = mp.get_context("spawn").Pipe(duplex=False)
    process = mp.get_context("spawn").Process(
        target=server_main, args=(viewers, traced, fanout, top, send)
    )
    process.start()
    result = receive.recv()
    process.join()
    result["baseline"] = Snapshot(**result["baseline"])
    result["loaded"] = Snapshot(**result["loaded"])
    return Run(**result)


def per_viewer(run: Run, name: str) -> float:
    grown: float = getattr(run.loaded, name) - getattr(run.baseline, name)
    return grown / run.viewers


def report(plain: Run, traced: Run) -> None:
    n = plain.viewers
    rss, trimmed = per_viewer(plain, "rss_kb"), per_viewer(plain, "trimmed_rss_kb")
    python = per_viewer(traced, "traced_kb")
    print(f"\n## {n} viewers (baseline: 1 publisher, 0 viewers)")
    print(f"0-viewer process RSS {plain.baseline.rss_kb} KB, with {n}: {plain.loaded.rss_kb} KB")
    whole = rss * n / plain.baseline.rss_kb
    print(f"RSS per viewer            {rss:7.1f} KB  ({n} viewers = {whole:.2f}x the 0-viewer RSS)")
    print(f"RSS per viewer, trimmed   {trimmed:7.1f} KB  (after malloc_trim: live bytes)")
    print(f"Python (tracemalloc)      {python:7.1f} KB  ({python / trimmed:.0%} of trimmed)")
    print(f"native (trimmed - traced) {trimmed - python:7.1f} KB  ({1 - python / trimmed:.0%})")
    tasks = (plain.loaded.tasks - plain.baseline.tasks) / n
    print(f"asyncio tasks per viewer  {tasks:7.1f}")
    for title, sites in (("files", traced.files), ("lines", traced.sites)):
        print(f"\ntop Python allocation {title}, growth per viewer ({n} viewers, traced run):")
        for where, kb, blocks in sites:
            print(f"  {kb * 1024 / n:8.0f} B  {blocks / n:6.1f} blocks  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--viewers", default="20,100", help="comma-separated viewer counts")
    parser.add_argument("--top", type=int, default=20, help="allocation sites shown")
    parser.add_argument("--fanout", choices=("native", "python"), default=None)
    args = parser.parse_args()
    for viewers in (int(v) for v in args.viewers.split(",")):
        plain = measure(viewers, False, args.fanout, args.top)
        traced = measure(viewers, True, args.fanout, args.top)
        report(plain, traced)


if __name__ == "__main__":
    main()
