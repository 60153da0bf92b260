"""Lightweight WHEP viewers for bench/sfu_fanout.py: many per process, no decryption, no decoding.

Each viewer is a real aiortc peer (ICE, DTLS, SRTCP) whose RTP socket the viewer reads itself:
SRTP packets are counted from their clear-text headers (marker bit = end of a frame) and never
reach aiortc, everything else (STUN, DTLS, RTCP) goes to aioice/aiortc as usual. Since aiortc
then never sees the media, its receiver reports carry no report block; the viewer sends its own
(the highest sequence number seen) twice a second, as the server bills, and cuts, by them.

Added delay: the abs-send-time stamp of the last packet of every frame against two arrival
times: the kernel's receive timestamp (SO_TIMESTAMPNS; on loopback taken when the server's send
hands the packet over, so it leaves out the viewer processes' scheduling) and the time the
viewer's event loop handled the packet.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from fanout_media import (
    ABS_SEND_TIME_URI,
    SDP_HEADERS,
    client_pc,
    find_extension,
    loopback_only,
    pin,
    since_stamp,
)
from yarl import URL

SO_TIMESTAMPNS = 35  # Linux; the socket module does not export it (SCM_ equals SO_)
TIMESPEC = struct.Struct("@qq")
REPORT_INTERVAL_S = 0.5
JOINS_AT_ONCE = 8
CONNECT_TIMEOUT_S = 30.0
VIEWS_PER_ACCOUNT = 100  # the server runs with MAX_VIEWS_PER_VIEWER=100 (its maximum)

# Per frame: (delay to the kernel's receive stamp s, delay to the event loop s, packets).
FrameDelay = tuple[float, float, int]


@dataclass
class Viewer:
    started: float = field(default_factory=time.monotonic)
    first_frame: float | None = None
    frames: int = 0
    pc: Any = None
    dtls: Any = None  # the RTCDtlsTransport, to send receiver reports through
    abs_send_time_id: int = 0
    packets: int = 0  # since the previous frame's last packet
    media_ssrc: int | None = None
    highest_seq: int = 0
    out_of_order: int = 0  # packets older than one already received (bench/cluster.py)
    media_port: int = 0  # the server's ICE candidate port: which node serves it (cluster)
    location: str = ""  # the WHEP session URL, to leave
    own_ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    delays: list[FrameDelay] = field(default_factory=list)


def kernel_stamp(ancdata: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return float(seconds + nanoseconds / 1e9)
    return float("nan")


def on_rtp(viewer: Viewer, data: bytes, ancdata: list[tuple[int, int, bytes]]) -> None:
    viewer.packets += 1
    seq = (data[2] << 8) | data[3]
    if viewer.media_ssrc is None:
        viewer.media_ssrc = int.from_bytes(data[8:12], "big")
    elif (seq - viewer.highest_seq) & 0xFFFF >= 0x8000:
        viewer.out_of_order += 1  # behind the highest: delivered out of order (or duplicated)
        return
    viewer.highest_seq = seq
    if data[1] & 0x80:
        on_frame_end(viewer, data, ancdata)


def on_frame_end(viewer: Viewer, data: bytes, ancdata: list[tuple[int, int, bytes]]) -> None:
    """The last packet of a frame: count it and record its delay since the publisher sent it."""
    handled = time.time()
    viewer.frames += 1
    if viewer.first_frame is None:
        viewer.first_frame = time.monotonic() - viewer.started
    value = find_extension(data, viewer.abs_send_time_id)
    if value is not None:
        stamp = int.from_bytes(value, "big")
        kernel = since_stamp(stamp, kernel_stamp(ancdata))
        viewer.delays.append((kernel, since_stamp(stamp, handled), viewer.packets))
    viewer.packets = 0


def read_rtp(viewer: Viewer, protocol: Any) -> None:
    """Read this ICE socket ourselves: SRTP to ``on_rtp``, the rest to aioice.

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
            on_rtp(viewer, data, ancdata)
        else:
            protocol.datagram_received(data, addr)  # STUN, DTLS, RTCP

    # The transport owns the fd, so the public add_reader refuses; _add_reader swaps the callback
    # and the transport's close still removes it.
    asyncio.get_running_loop()._add_reader(sock.fileno(), read_ready)  # type: ignore[attr-defined]


def receiver_report(viewer: Viewer, media_ssrc: int) -> bytes:
    from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

    block = RtcpReceiverInfo(
        ssrc=media_ssrc,
        fraction_lost=0,
        packets_lost=0,
        highest_sequence=viewer.highest_seq,
        jitter=0,
        lsr=0,
        dlsr=0,
    )
    return bytes(RtcpRrPacket(ssrc=viewer.own_ssrc, reports=[block]))


async def report_loop(viewers: list[Viewer]) -> None:
    """Every viewer acknowledges what it received, as a player's RTCP would."""
    while True:
        await asyncio.sleep(REPORT_INTERVAL_S)
        for viewer in viewers:
            if viewer.media_ssrc is not None:
                try:
                    await viewer.dtls._send_rtp(receiver_report(viewer, viewer.media_ssrc))
                except ConnectionError:
                    pass  # not connected (yet, or any more): nothing to acknowledge


async def join(http: Any, url: str, stream_id: str, token: str, viewers: list[Viewer]) -> None:
    """One viewer through WHEP, reading its own RTP socket; in ``viewers`` from the start, so
    it acknowledges its first packets (the server cuts a viewer silent for 3 s)."""
    from aiortc import RTCSessionDescription

    from sfu import aiortc_hooks
    from sfu.negotiation import negotiated_tracks

    viewer = Viewer()
    viewers.append(viewer)
    pc = viewer.pc = client_pc()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    aiortc_hooks.disable_decoder(transceiver.receiver)
    await pc.setLocalDescription(await pc.createOffer())
    viewer.dtls = transceiver.receiver.transport
    for protocol in viewer.dtls.transport._connection._protocols:
        read_rtp(viewer, protocol)
    headers = {**SDP_HEADERS, "Authorization": f"Bearer {token}"}
    post = http.post(f"{url}/whep/{stream_id}", data=pc.localDescription.sdp, headers=headers)
    async with post as response:
        if response.status != 201:
            raise RuntimeError(f"WHEP {response.status}: {await response.text()}")
        answer = await response.text()
        viewer.location = str(response.url.join(URL(response.headers.get("Location", ""))))
    viewer.media_port = candidate_port(answer)
    extension_ids = negotiated_tracks(answer)[transceiver.mid].extension_ids
    viewer.abs_send_time_id = extension_ids.get(ABS_SEND_TIME_URI, 0)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await connected(pc)


def candidate_port(sdp: str) -> int:
    """The port of the answer's first ICE candidate (a node's one media port, single-port ICE)."""
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            return int(line.split()[5])
    return 0


async def leave(http: Any, viewers: list[Viewer], token_of: Any) -> None:
    """End every viewer's session (WHEP DELETE, as a player leaving does) and close its peer."""
    for index, viewer in enumerate(viewers):
        headers = {"Authorization": f"Bearer {token_of(index)}"}
        async with http.delete(viewer.location, headers=headers) as response:
            if response.status != 200:
                raise RuntimeError(f"WHEP DELETE {response.status}: {await response.text()}")
        await viewer.pc.close()
    viewers.clear()


async def connected(pc: Any) -> None:
    """Wait (bounded) until ICE and DTLS are up, so joins come at the pace the server takes them."""
    up = asyncio.Event()

    def on_state() -> None:
        if pc.connectionState in ("connected", "failed"):
            up.set()

    pc.on("connectionstatechange", on_state)
    if pc.connectionState != "connected":
        try:
            await asyncio.wait_for(up.wait(), CONNECT_TIMEOUT_S)
        except TimeoutError:
            pass  # counted as not connected in the snapshots


def worker_main(url: str, stream_id: str, tokens: list[str], conn: Connection, core: int) -> None:
    pin(core)
    loopback_only()
    asyncio.run(worker(url, stream_id, tokens, conn))


async def worker(url: str, stream_id: str, tokens: list[str], conn: Connection) -> None:
    """Serve the orchestrator's commands: add N viewers, snapshot counters, stop."""
    import aiohttp

    loop = asyncio.get_running_loop()
    viewers: list[Viewer] = []
    limit = asyncio.Semaphore(JOINS_AT_ONCE)
    reports = asyncio.create_task(report_loop(viewers))
    async with aiohttp.ClientSession() as http:

        async def join_one(index: int) -> None:
            async with limit:
                await join(http, url, stream_id, tokens[index // VIEWS_PER_ACCOUNT], viewers)

        while True:
            command, arg = await loop.run_in_executor(None, conn.recv)
            if command == "add":
                first = len(viewers)
                await asyncio.gather(*(join_one(first + i) for i in range(arg)))
                conn.send(len(viewers))
            elif command == "leave":
                await leave(http, viewers, lambda i: tokens[i // VIEWS_PER_ACCOUNT])
                conn.send(0)
            elif command == "snapshot":
                if reports.done():
                    reports.result()  # the report loop failed: raise here, not never
                conn.send(snapshot(viewers))
            else:
                reports.cancel()
                for viewer in viewers:
                    await viewer.pc.close()
                conn.send(None)
                return


ViewerCounts = tuple[int, float | None, bool, int, int]


def snapshot(viewers: list[Viewer]) -> tuple[list[ViewerCounts], list[FrameDelay]]:
    """Frames, join time, connectedness, the serving node's media port and the packets received
    out of order, per viewer; delays since the previous snapshot."""
    delays = [d for v in viewers for d in v.delays]
    for viewer in viewers:
        viewer.delays = []
    counts = [
        (v.frames, v.first_frame, v.pc.connectionState == "connected", v.media_port, v.out_of_order)
        for v in viewers
    ]
    return counts, delays
