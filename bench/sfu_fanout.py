"""SFU fan-out benchmark: forwarding SFU vs aiortc MediaRelay (decode + re-encode per viewer).

One publisher sends a pre-encoded 1280x720 30 fps VP8 clip (~1.6 Mb/s) in a loop; N viewers in
separate processes count frames from RTP headers (marker bit, no decryption, no decoding); a
few extra viewers per step decode, to time join -> first decoded frame. The server runs in its
own process pinned to core 0, so its CPU is read from /proc; publisher and viewers share core 1.

Added delay: the publisher writes its send time (CLOCK_REALTIME) into the abs-send-time header
extension of every packet; the sfu forwards header extensions unchanged (only their ids are
renumbered) and header extensions travel in clear text in SRTP. Each viewer reads it from the
last packet of every frame and records two arrival times: the kernel's receive timestamp
(SO_TIMESTAMPNS; on loopback taken when the sfu's sendto hands the packet over, so it excludes
the viewer processes' own scheduling) and the time its event loop handled the packet. Same
machine, same clock: delay = arrival - send. MediaRelay re-encodes and stamps its own
abs-send-time, so this measurement applies to the sfu only.

    .venv/bin/python bench/sfu_fanout.py                       # full run
    .venv/bin/python bench/sfu_fanout.py --steps 1,10 --relay-steps 1 --window 3   # quick

Figures are ratios against the MediaRelay baseline measured in the same run; absolute numbers
depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import multiprocessing as mp
import os
import socket
import statistics
import struct
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

HOST = "127.0.0.1"
STREAM = "bench"
WIDTH, HEIGHT, FPS = 1280, 720, 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
SO_TIMESTAMPNS = 35  # Linux; the socket module does not export it (SCM_ equals SO_)
TIMESPEC = struct.Struct("@qq")


# --- helpers shared by the processes ----------------------------------------------------------


def pin(core: int) -> None:
    """Pin this process to one core when the machine has it."""
    if core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def loopback_only() -> None:
    """aioice leaves 127.0.0.1 out of host candidates: put it back for this process."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [HOST]


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all threads."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def core_busy(core: int) -> float:
    """Busy CPU seconds of one core, all processes (from /proc/stat)."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith(f"cpu{core} "):
                ticks = [int(x) for x in line.split()[1:]]
                return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def abs_send_time(seconds: float) -> int:
    """abs-send-time: 24-bit 6.18 fixed-point seconds, modulo 64 s."""
    return int(seconds * (1 << 18)) & 0xFFFFFF


def since_abs_send_time(stamp: int, now: float) -> float:
    """Seconds from the 24-bit ``stamp`` to ``now`` (both on the same clock, < 64 s apart)."""
    return ((abs_send_time(now) - stamp) & 0xFFFFFF) / (1 << 18)


def find_extension(data: bytes, ext_id: int) -> bytes | None:
    """Value of one-byte header extension ``ext_id`` in a (S)RTP packet, if present."""
    if not data[0] & 0x10:
        return None
    start = 12 + 4 * (data[0] & 0x0F)
    profile, words = struct.unpack_from("!HH", data, start)
    if profile != 0xBEDE:
        return None
    pos, end = start + 4, start + 4 + 4 * words
    while pos < end:
        if data[pos] == 0:  # padding
            pos += 1
            continue
        found, length = data[pos] >> 4, (data[pos] & 0x0F) + 1
        if found == ext_id:
            return data[pos + 1 : pos + 1 + length]
        pos += 1 + length
    return None


def client_pc() -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection

    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


# --- the clip ---------------------------------------------------------------------------------


def encode_clip(frames: int, bitrate: int) -> tuple[list[list[bytes]], list[list[bytes]]]:
    """RTP payloads per frame: the clip (one keyframe) and an all-keyframe copy (for PLIs)."""
    import av
    import numpy as np
    from aiortc.codecs.vpx import Vp8Encoder

    rng = np.random.default_rng(7)
    # Fine texture drifting slowly: libvpx lands near 1.6 Mb/s at 720p with keyframes of
    # ~40 packets, as a real camera stream would have.
    texture = rng.integers(68, 188, (HEIGHT // 8, WIDTH // 8), dtype=np.uint8)
    clips = []
    # The keyframe copy gets a keyframe-sized budget (rate control would starve it otherwise).
    for gop, rate in ((frames * 10, bitrate), (1, bitrate * 6)):
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        codec.time_base = fractions.Fraction(1, FPS)
        codec.framerate = fractions.Fraction(FPS, 1)
        codec.bit_rate, codec.gop_size = rate, gop
        codec.options = {
            # "good", not "realtime": realtime trades bitrate for speed when the machine is busy.
            "deadline": "good",
            "cpu-used": "5",
            "lag-in-frames": "0",
        }
        packer = Vp8Encoder()
        clip: list[list[bytes]] = []
        for i in range(frames):
            moved = np.roll(texture, (i // 4, i // 3), axis=(0, 1))
            luma = np.kron(moved, np.ones((8, 8), dtype=np.uint8))
            image = np.stack([luma, luma, luma], axis=2)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            for packet in codec.encode(frame):
                clip.append(packer.pack(packet)[0])
        for packet in codec.encode(None):
            clip.append(packer.pack(packet)[0])
        clips.append(clip[:frames])
    return clips[0], clips[1]


# --- server process (forwarding SFU or MediaRelay baseline) -----------------------------------


def server_main(mode: str, port: int, ready: Any, core: int) -> None:
    import logging

    import structlog

    pin(core)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(serve(mode, port, ready))


async def serve(mode: str, port: int, ready: Any) -> None:
    from aiohttp import web

    if mode == "sfu":
        from sfu import IceSettings, Sfu

        sfu = Sfu(IceSettings(host_addresses=(HOST,)))
        publish, subscribe = sfu.publish, sfu.subscribe
    else:
        publish, subscribe = relay_server()

    async def on_publish(request: web.Request) -> web.Response:
        _, answer = await publish(STREAM, await request.text())
        return web.Response(text=answer)

    async def on_subscribe(request: web.Request) -> web.Response:
        _, answer = await subscribe(STREAM, await request.text())
        return web.Response(text=answer)

    async def on_sent(request: web.Request) -> web.Response:
        # Frames the SFU itself sent per viewer since the previous call (sfu mode only).
        taken = sfu.take_delivery().values() if mode == "sfu" else []
        frames = [d.frames for d in taken if d.packets]
        return web.json_response(frames)

    app = web.Application()
    app.add_routes(
        [
            web.post("/publish", on_publish),
            web.post("/subscribe", on_subscribe),
            web.get("/sent", on_sent),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    ready.set()
    await asyncio.Event().wait()


def relay_server() -> tuple[Any, Any]:
    """The baseline: aiortc's MediaRelay, whose senders re-encode for every viewer."""
    from aiortc import RTCSessionDescription
    from aiortc.contrib.media import MediaRelay

    loopback_only()
    relay = MediaRelay()
    source: dict[str, Any] = {}
    pcs: list[Any] = []

    async def answer(pc: Any, offer: str) -> str:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def publish(stream: str, offer: str) -> tuple[str, str]:
        pc = client_pc()
        pcs.append(pc)
        pc.on("track", lambda track: source.__setitem__(stream, track))
        return "publisher", await answer(pc, offer)

    async def subscribe(stream: str, offer: str) -> tuple[str, str]:
        pc = client_pc()
        pcs.append(pc)
        pc.addTrack(relay.subscribe(source[stream]))
        return "viewer", await answer(pc, offer)

    return publish, subscribe


# --- publisher process --------------------------------------------------------------------------


MAX_PUBLISH_SECONDS = 1800  # bound: the publisher stops on its own after half an hour


def publisher_main(port: int, clips: tuple[list, list], sent: Any, core: int) -> None:
    pin(core)
    loopback_only()
    asyncio.run(publish_clip(port, *clips, sent))


async def publish_clip(port: int, clip: list, intra: list, sent: Any) -> None:
    """Send the pre-encoded clip as RTP at 30 fps; a PLI swaps in a keyframe."""
    import aiohttp
    from aiortc import RTCRtpSender, RTCSessionDescription

    from sfu import aiortc_hooks
    from sfu.negotiation import negotiated_tracks
    from sfu.subscriber import HeldTrack

    pc = client_pc()
    transceiver = pc.addTransceiver(HeldTrack("video"), direction="sendonly")
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"]
    transceiver.setCodecPreferences(vp8)
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://{HOST}:{port}/publish", data=pc.localDescription.sdp) as r:
            answer = await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    negotiated = negotiated_tracks(answer)[transceiver.mid]
    payload_type = negotiated.codec.payloadType
    # One-byte extension block, 1 word long: abs-send-time (3-byte element, stamped per packet).
    ast_id = negotiated.extension_ids[ABS_SEND_TIME_URI]
    extension = struct.pack("!HHB", 0xBEDE, 1, (ast_id << 4) | 2)
    sender = transceiver.sender
    ssrc, _ = aiortc_hooks.sender_ssrcs(sender)
    want_keyframe = [False]

    async def ignore_nack(sequence_number: int) -> None:
        return None

    aiortc_hooks.intercept_sender(sender, lambda: want_keyframe.__setitem__(0, True), ignore_nack)
    output = aiortc_hooks.rtp_output(sender.transport)
    connected = asyncio.Event()
    pc.on("connectionstatechange", lambda: pc.connectionState == "connected" and connected.set())
    await asyncio.wait_for(connected.wait(), 30)
    loop = asyncio.get_running_loop()
    start, seq, number = loop.time(), 0, 0
    while number < MAX_PUBLISH_SECONDS * FPS:
        await asyncio.sleep(max(0.0, start + number / FPS - loop.time()))
        source = intra if want_keyframe[0] else clip
        want_keyframe[0] = False
        payloads = source[number % len(clip)]
        timestamp = (number * 90000 // FPS) & 0xFFFFFFFF
        for i, payload in enumerate(payloads):
            marker = 0x80 if i == len(payloads) - 1 else 0
            header = struct.pack("!BBHII", 0x90, marker | payload_type, seq, timestamp, ssrc)
            stamp = abs_send_time(time.time()).to_bytes(3, "big")
            output(header + extension + stamp + payload)
            seq = (seq + 1) & 0xFFFF
        number += 1
        sent.value = number


# --- viewer worker processes ------------------------------------------------------------------


@dataclass
class Viewer:
    started: float = field(default_factory=time.monotonic)
    first_frame: float | None = None
    frames: int = 0
    pc: Any = None
    abs_send_time_id: int | None = None
    packets: int = 0  # since the previous frame's last packet
    # Per frame: (delay to the kernel's receive stamp, delay to the event loop, packets), s.
    delays: list[tuple[float, float, int]] = field(default_factory=list)


def signed_since(stamp: int, now: float) -> float:
    """Seconds from a 24-bit abs-send-time ``stamp`` to ``now``, negative if ``now`` is earlier."""
    return (((abs_send_time(now) - stamp + 0x800000) & 0xFFFFFF) - 0x800000) / (1 << 18)


def kernel_stamp(ancdata: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return seconds + nanoseconds / 1e9
    return float("nan")


def on_frame_end(viewer: Viewer, data: bytes, ancdata: list[tuple[int, int, bytes]]) -> None:
    """The last packet of a frame: count it and record its delay since the publisher sent it."""
    handled = time.time()
    viewer.frames += 1
    if viewer.first_frame is None:
        viewer.first_frame = time.monotonic() - viewer.started
    value = find_extension(data, viewer.abs_send_time_id or 0)
    if value is not None:
        stamp = int.from_bytes(value, "big")
        kernel = signed_since(stamp, kernel_stamp(ancdata))
        viewer.delays.append((kernel, signed_since(stamp, handled), viewer.packets))
    viewer.packets = 0


def read_rtp(viewer: Viewer, protocol: Any) -> None:
    """Read this ICE socket ourselves: SRTP counted from clear-text headers, the rest to aioice.

    Replaces asyncio's datagram reader (one datagram per wake-up, as before) with recvmsg, so
    every packet comes with its kernel receive timestamp.
    """
    sock = protocol.transport._sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    ancillary = socket.CMSG_SPACE(TIMESPEC.size)

    def read_ready() -> None:
        try:
            data, ancdata, _, addr = sock.recvmsg(4096, ancillary)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            protocol.error_received(exc)
            return
        if len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
            viewer.packets += 1
            if data[1] & 0x80:
                on_frame_end(viewer, data, ancdata)
            return
        protocol.datagram_received(data, addr)  # STUN, DTLS, RTCP: aioice/aiortc as usual

    # The transport owns the fd, so the public add_reader refuses; _add_reader swaps the callback
    # and the transport's close still removes it.
    asyncio.get_running_loop()._add_reader(sock.fileno(), read_ready)  # type: ignore[attr-defined]


async def join(http: Any, port: int, decode: bool) -> Viewer:
    from aiortc import RTCSessionDescription

    from sfu import aiortc_hooks
    from sfu.negotiation import negotiated_tracks

    viewer = Viewer()
    pc = viewer.pc = client_pc()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    if decode:

        @pc.on("track")
        def on_track(track: Any) -> None:
            async def first_picture() -> None:
                await track.recv()
                viewer.first_frame = time.monotonic() - viewer.started

            asyncio.ensure_future(first_picture())
    else:
        aiortc_hooks.disable_decoder(transceiver.receiver)
    await pc.setLocalDescription(await pc.createOffer())
    if not decode:
        for protocol in transceiver.receiver.transport.transport._connection._protocols:
            read_rtp(viewer, protocol)
    async with http.post(f"http://{HOST}:{port}/subscribe", data=pc.localDescription.sdp) as r:
        answer = await r.text()
    extension_ids = negotiated_tracks(answer)[transceiver.mid].extension_ids
    viewer.abs_send_time_id = extension_ids.get(ABS_SEND_TIME_URI)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return viewer


def worker_main(port: int, conn: Connection, core: int) -> None:
    pin(core)
    loopback_only()
    asyncio.run(worker(port, conn))


async def worker(port: int, conn: Connection) -> None:
    import aiohttp

    loop = asyncio.get_running_loop()
    viewers: list[Viewer] = []
    limit = asyncio.Semaphore(8)
    async with aiohttp.ClientSession() as http:

        async def join_one(decode: bool) -> Viewer:
            async with limit:
                return await join(http, port, decode)

        while True:
            command, arg = await loop.run_in_executor(None, conn.recv)
            if command == "add":
                viewers += await asyncio.gather(*(join_one(False) for _ in range(arg)))
                conn.send(len(viewers))
            elif command == "decode":
                probes = await asyncio.gather(*(join_one(True) for _ in range(arg)))
                for _ in range(100):
                    if all(p.first_frame is not None for p in probes):
                        break
                    await asyncio.sleep(0.1)
                conn.send([p.first_frame for p in probes])
                for probe in probes:
                    await probe.pc.close()
            elif command == "snapshot":
                # Delays recorded since the previous snapshot, then forgotten.
                delays = [d for v in viewers for d in v.delays]
                for viewer in viewers:
                    viewer.delays = []
                conn.send(([(v.frames, v.first_frame) for v in viewers], delays))
            else:
                for viewer in viewers:
                    await viewer.pc.close()
                conn.send(None)
                return


# --- orchestration ------------------------------------------------------------------------------


@dataclass
class Row:
    mode: str
    viewers: int
    cpu: float
    cpu_sys: float
    client_cpu: float
    others: float
    fps: float
    delivery: float
    sent: float
    worst: float
    join_p50: float
    join_p95: float
    decode_p50: float
    delay: Delays


KEYFRAME_PACKETS = 20  # frames of at least this many packets are keyframes (delta frames: ~4)


@dataclass
class Delays:
    """Added delay publisher -> viewer over all viewers' frames in the window, in ms."""

    at_socket: tuple[float, float, float]  # p50, p95, max (kernel receive timestamp)
    in_viewer: tuple[float, float, float]  # p50, p95, max (viewer's event loop)
    delta_p95: float  # at_socket p95 of delta frames
    keyframe_p95: float  # at_socket p95 of keyframes
    frames: int

    @classmethod
    def of(cls, delays: list[tuple[float, float, int]]) -> Delays:
        def figures(values: list[float]) -> tuple[float, float, float]:
            if not values:
                return (float("nan"),) * 3
            return (
                1000 * percentile(values, 0.5),
                1000 * percentile(values, 0.95),
                1000 * max(values),
            )

        socket_delays = [d[0] for d in delays]
        return cls(
            at_socket=figures(socket_delays),
            in_viewer=figures([d[1] for d in delays]),
            delta_p95=1000 * percentile([d[0] for d in delays if d[2] < KEYFRAME_PACKETS], 0.95),
            keyframe_p95=1000
            * percentile([d[0] for d in delays if d[2] >= KEYFRAME_PACKETS], 0.95),
            frames=len(delays),
        )

    def cells(self) -> str:
        if self.frames == 0:
            return "– | – | –"
        return " | ".join(
            (
                "{:.1f} / {:.1f} / {:.0f}".format(*self.at_socket),
                "{:.1f} / {:.1f} / {:.0f}".format(*self.in_viewer),
                f"{self.delta_p95:.1f} / {self.keyframe_p95:.1f}",
            )
        )


def sfu_sent(port: int) -> list[int]:
    """Per viewer, frames the server sent since the previous call (empty for MediaRelay)."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://{HOST}:{port}/sent", timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def ask(conns: list[Connection], command: str, args: list[Any]) -> list[Any]:
    for conn, arg in zip(conns, args, strict=True):
        conn.send((command, arg))
    return [conn.recv() for conn in conns]


def run_mode(
    mode: str, steps: list[int], clips: tuple[list, list], args: argparse.Namespace
) -> list[Row]:
    ctx = mp.get_context("spawn")
    port = args.port + (0 if mode == "sfu" else 1)
    ready, sent = ctx.Event(), ctx.Value("q", 0)
    server = ctx.Process(target=server_main, args=(mode, port, ready, 0), daemon=True)
    server.start()
    ready.wait(30)
    publisher = ctx.Process(target=publisher_main, args=(port, clips, sent, 1), daemon=True)
    publisher.start()
    pipes = [ctx.Pipe() for _ in range(args.workers)]
    workers = [
        ctx.Process(target=worker_main, args=(port, child, 1), daemon=True) for _, child in pipes
    ]
    for process in workers:
        process.start()
    conns = [parent for parent, _ in pipes]
    rows: list[Row] = []
    try:
        deadline = time.monotonic() + 30
        while sent.value == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        total = 0
        for n in steps:
            new = n - total
            shares = [new // len(conns) + (i < new % len(conns)) for i in range(len(conns))]
            ask(conns, "add", shares)
            total = n
            decode_times = [t for ts in ask(conns, "decode", [1] * len(conns)) for t in ts if t]
            time.sleep(args.settle)
            sfu_sent(port)
            before = [x for part, _ in ask(conns, "snapshot", [0] * len(conns)) for x in part]
            cpu0, sent0, t0 = cpu_seconds(server.pid), sent.value, time.monotonic()
            clients0 = sum(sum(cpu_seconds(p.pid)) for p in [*workers, publisher])
            busy0 = core_busy(0)
            time.sleep(args.window)
            snapshots = ask(conns, "snapshot", [0] * len(conns))
            after = [x for part, _ in snapshots for x in part]
            delays = [d for _, part in snapshots for d in part] if mode == "sfu" else []
            server_sent = sfu_sent(port)
            cpu1, sent1, t1 = cpu_seconds(server.pid), sent.value, time.monotonic()
            clients1 = sum(sum(cpu_seconds(p.pid)) for p in [*workers, publisher])
            busy1 = core_busy(0)
            frames = [a[0] - b[0] for a, b in zip(after, before, strict=True)]
            expected = max(1, sent1 - sent0)
            joins = [a[1] for a in after if a[1] is not None]
            row = Row(
                mode=mode,
                viewers=n,
                cpu=100 * (sum(cpu1) - sum(cpu0)) / (t1 - t0),
                cpu_sys=100 * (cpu1[1] - cpu0[1]) / (t1 - t0),
                client_cpu=100 * (clients1 - clients0) / (t1 - t0),
                others=100 * ((busy1 - busy0) - (sum(cpu1) - sum(cpu0))) / (t1 - t0),
                fps=statistics.mean(frames) / (t1 - t0),
                delivery=100 * statistics.mean(frames) / expected,
                sent=100 * statistics.mean(server_sent) / expected if server_sent else float("nan"),
                worst=100 * min(frames) / expected,
                join_p50=1000 * percentile(joins, 0.5),
                join_p95=1000 * percentile(joins, 0.95),
                decode_p50=1000 * percentile(decode_times, 0.5),
                delay=Delays.of(delays),
            )
            rows.append(row)
            print(format_row(row), flush=True)
            if row.delivery < 95:
                break
        ask(conns, "stop", [None] * len(conns))
    finally:
        for process in [*workers, publisher, server]:
            process.kill()
            process.join(5)
    return rows


HEADER = (
    "| mode | viewers | server CPU % (of it kernel) | frames/s per viewer | sent by server % "
    "| delivered % (worst) "
    "| join→first frame p50 / p95 ms | join→first decoded p50 ms | viewers+publisher CPU % "
    "| core 0 used by others % | added delay at viewer socket p50 / p95 / max ms "
    "| added delay in viewer process p50 / p95 / max ms | socket p95 delta / keyframes ms |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: Row) -> str:
    return (
        f"| {row.mode} | {row.viewers} | {row.cpu:.0f} ({row.cpu_sys:.0f}) | {row.fps:.1f} | "
        f"{row.sent:.1f} | "
        f"{row.delivery:.1f} ({row.worst:.0f}) | {row.join_p50:.0f} / {row.join_p95:.0f} | "
        f"{row.decode_p50:.0f} | {row.client_cpu:.0f} | {max(0.0, row.others):.0f} | "
        f"{row.delay.cells()} |"
    )


def summary(sfu_rows: list[Row], relay_rows: list[Row]) -> str:
    good = [r for r in sfu_rows if r.delivery >= 95]
    relay_good = [r for r in relay_rows if r.delivery >= 95] or relay_rows[:1]
    lines = []
    if good and relay_good:
        best = good[-1]
        sfu_per_viewer = best.cpu / best.viewers
        relay_per_viewer = max(r.cpu / r.viewers for r in relay_good)
        lines.append(
            f"SFU: {best.viewers} viewers at {best.delivery:.1f}% delivered using {best.cpu:.0f}% "
            f"of one core -> ~{best.viewers * 100 / max(best.cpu, 1):.0f} viewers per core "
            "(at that load)"
        )
        lines.append(
            f"CPU per viewer: SFU {sfu_per_viewer:.2f}% vs MediaRelay {relay_per_viewer:.1f}% "
            f"-> ratio 1/{relay_per_viewer / max(sfu_per_viewer, 1e-6):.0f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", default="1,10,50,100,200,300,400,500,600,700,800")
    parser.add_argument("--relay-steps", default="1,2,3")
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clip-frames", type=int, default=150)
    parser.add_argument("--bitrate", type=int, default=1_600_000)
    parser.add_argument("--port", type=int, default=18770)
    args = parser.parse_args()

    t0 = time.monotonic()
    clips = clip, intra = encode_clip(args.clip_frames, args.bitrate)
    kbps = sum(len(p) for frame in clip for p in frame) * 8 * FPS / len(clip) / 1000
    packets = sum(len(frame) for frame in clip) / len(clip)
    print(
        f"clip: {len(clip)} frames {WIDTH}x{HEIGHT}@{FPS} VP8, {kbps:.0f} kb/s, "
        f"{packets:.1f} packets/frame, keyframe {len(clip[0])} packets, "
        f"on PLI {statistics.mean(len(f) for f in intra):.0f} packets "
        f"(encoded in {time.monotonic() - t0:.0f} s)"
    )
    print(HEADER)
    relay_rows = run_mode("relay", [int(n) for n in args.relay_steps.split(",")], clips, args)
    sfu_rows = run_mode("sfu", [int(n) for n in args.steps.split(",")], clips, args)
    print(summary(sfu_rows, relay_rows))


if __name__ == "__main__":
    main()
