"""Single-port ICE: every sfu peer connection on one UDP socket, with real aiortc peers."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import aioice.stun
import pytest
from prometheus_client import REGISTRY

from sfu import IceSettings, Sfu
from sfu.udp_mux import MuxStats
from tests.sfu.support.peers import start_publisher, start_viewer
from tests.support.rtc_peers import Viewer


def candidates(sdp: str) -> set[tuple[str, int]]:
    """(address, port) of every candidate of an SDP."""
    found = re.findall(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) (\d+) typ", sdp, re.MULTILINE)
    return {(address, int(port)) for address, port in found}


def udp_ports_of_this_process() -> list[int]:
    """Local ports of the UDP sockets this process holds (Linux /proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def mux(sfu: Sfu) -> MuxStats:
    stats = sfu.udp_mux_stats()
    assert stats is not None
    return stats


def dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("vilokanam_sfu_udp_dropped_total", {"reason": reason})
    return value or 0.0


def ice_ufrag(sdp: str) -> str:
    match = re.search(r"^a=ice-ufrag:(\S+)", sdp, re.MULTILINE)
    assert match is not None
    return match.group(1)


def binding_request(username: str) -> bytes:
    message = aioice.stun.Message(
        message_method=aioice.stun.Method.BINDING, message_class=aioice.stun.Class.REQUEST
    )
    message.attributes["USERNAME"] = username
    message.attributes["PRIORITY"] = 1
    message.add_message_integrity(b"not the password")
    message.add_fingerprint()
    return bytes(message)


def binding_response() -> bytes:
    message = aioice.stun.Message(
        message_method=aioice.stun.Method.BINDING, message_class=aioice.stun.Class.RESPONSE
    )
    message.attributes["XOR-MAPPED-ADDRESS"] = ("127.0.0.1", 9)
    return bytes(message)


async def test_publisher_and_viewers_share_one_udp_socket(sfu: Sfu) -> None:
    port = sfu.udp_port
    assert port
    ports_before = udp_ports_of_this_process()
    publisher = await start_publisher(sfu, "s")
    viewers = [await start_viewer(sfu, "s") for _ in range(3)]
    try:
        for viewer in viewers:
            await viewer.wait_frames(20)
        answers = [publisher.answer, *(viewer.answer for viewer in viewers)]
        for answer in answers:
            assert candidates(answer) == {("127.0.0.1", port)}
        assert len({ice_ufrag(answer) for answer in answers}) == 4  # STUN is routed by ufrag
        assert mux(sfu).connections == 4 and mux(sfu).addresses >= 4
        # Four client sockets (one per test peer), none more for the sfu's four connections.
        opened = udp_ports_of_this_process()
        assert len(opened) - len(ports_before) == 4
        assert opened.count(port) == 1
        assert port not in {p for _, p in candidates(publisher.pc.localDescription.sdp)}
    finally:
        for viewer in viewers:
            await viewer.close()
        await publisher.pc.close()


async def test_closed_viewers_and_publisher_are_unregistered(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "s")
    viewers = [await start_viewer(sfu, "s") for _ in range(2)]
    try:
        await viewers[1].wait_frames(10)
        assert mux(sfu).connections == 3
        await sfu.unsubscribe(viewers[0].subscriber_id)
        await wait_until(lambda: mux(sfu).connections == 2)
        await viewers[1].wait_frames(10)  # the others keep playing
        await viewers[1].close()  # from the viewer's side: DTLS close, then the sfu closes
        await wait_until(lambda: mux(sfu).connections == 1)
        await sfu.unpublish("s")
        await wait_until(lambda: (mux(sfu).connections, mux(sfu).addresses) == (0, 0))
    finally:
        for viewer in viewers:
            await viewer.close()
        await publisher.pc.close()


async def test_stray_datagrams_are_dropped_and_counted(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "s")
    viewer: Viewer = await start_viewer(sfu, "s")
    port = sfu.udp_port
    stray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        await viewer.wait_frames(10)
        before = mux(sfu)
        counted = {r: dropped(r) for r in ("unknown_address", "unknown_ufrag", "malformed_stun")}
        stray.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", port)
        stray.sendto(b"\x80\x60garbage that looks like RTP", target)
        stray.sendto(binding_request("nobody:x"), target)
        stray.sendto(b"\x00\x01 short", target)
        # A request to a real connection without its password: answered 401, address not bound.
        stray.sendto(binding_request(f"{ice_ufrag(viewer.answer)}:x"), target)
        await wait_until(lambda: mux(sfu).dropped == before.dropped + 3)
        stray.sendto(b"\x80\x60after a forged request: still unknown", target)
        await wait_until(lambda: mux(sfu).dropped == before.dropped + 4)
        assert dropped("unknown_address") == counted["unknown_address"] + 2
        assert dropped("unknown_ufrag") == counted["unknown_ufrag"] + 1
        assert dropped("malformed_stun") == counted["malformed_stun"] + 1
        assert mux(sfu).addresses == before.addresses
        await viewer.wait_frames(20)  # undisturbed
    finally:
        stray.close()
        await viewer.close()
        await publisher.pc.close()


async def test_announced_address_keeps_the_shared_port(loopback: None) -> None:
    ice = IceSettings(host_addresses=("127.0.0.1",), announced_address="203.0.113.7", udp_port=0)
    server = Sfu(ice)
    try:
        publisher = await start_publisher(server, "s")
        assert candidates(publisher.answer) == {("203.0.113.7", server.udp_port)}
        await publisher.pc.close()
    finally:
        await server.close()


async def test_without_the_mux_each_connection_has_its_own_port(loopback: None) -> None:
    server = Sfu(IceSettings(host_addresses=("127.0.0.1",)))
    try:
        assert server.udp_port is None and server.udp_mux_stats() is None
        publisher = await start_publisher(server, "s")
        viewer = await start_viewer(server, "s")
        assert candidates(publisher.answer) != candidates(viewer.answer)
        await viewer.close()
        await publisher.pc.close()
    finally:
        await server.close()


async def test_closing_the_sfu_frees_its_port(loopback: None) -> None:
    server = Sfu(IceSettings(host_addresses=("127.0.0.1",), udp_port=0))
    port = server.udp_port
    assert port
    with pytest.raises(OSError):
        Sfu(IceSettings(host_addresses=("127.0.0.1",), udp_port=port))  # taken: fails at start
    publisher = await start_publisher(server, "s")
    await server.close()
    await publisher.pc.close()
    again = Sfu(IceSettings(host_addresses=("127.0.0.1",), udp_port=port))
    assert again.udp_port == port
    await again.close()


async def test_without_host_addresses_one_wildcard_socket_serves_them_all(loopback: None) -> None:
    server = Sfu(IceSettings(udp_port=0))  # aioice's host addresses: 127.0.0.1 here
    try:
        publisher = await start_publisher(server, "s")
        viewer = await start_viewer(server, "s")
        await viewer.wait_frames(10)
        assert candidates(viewer.answer) == {("127.0.0.1", server.udp_port)}
        assert mux(server).connections == 2
        await viewer.close()
        await publisher.pc.close()
    finally:
        await server.close()


class FakeStunServer(asyncio.DatagramProtocol):
    """Answers every Binding request with a fixed "public" address (a NAT's view)."""

    PUBLIC = ("198.51.100.9", 40000)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        request = aioice.stun.parse_message(data)
        response = aioice.stun.Message(
            message_method=aioice.stun.Method.BINDING,
            message_class=aioice.stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = self.PUBLIC
        self.transport.sendto(bytes(response), addr)  # type: ignore[attr-defined]


async def test_stun_server_responses_reach_the_asking_connection(loopback: None) -> None:
    loop = asyncio.get_running_loop()
    stun_transport, _ = await loop.create_datagram_endpoint(
        FakeStunServer, local_addr=("127.0.0.1", 0)
    )
    stun_port = stun_transport.get_extra_info("sockname")[1]
    ice = IceSettings(
        host_addresses=("127.0.0.1",), ice_servers=(f"stun:127.0.0.1:{stun_port}",), udp_port=0
    )
    server = Sfu(ice)
    try:
        publisher = await start_publisher(server, "s")
        srflx = re.findall(r"(\S+) (\d+) typ srflx raddr (\S+) rport (\d+)", publisher.answer)
        assert srflx == [("198.51.100.9", "40000", "127.0.0.1", str(server.udp_port))]
        await publisher.pc.close()
    finally:
        await server.close()
        stun_transport.close()


def answered(probe: socket.socket) -> bool:
    try:
        probe.recv(2048)
    except BlockingIOError:
        return False
    return True


async def test_a_check_queued_behind_a_burst_is_answered_at_once(sfu: Sfu) -> None:
    """Every connection's packets share one socket: a STUN check that arrives behind a burst
    of them must not wait one event-loop iteration per datagram ahead of it (under load that
    is seconds, and aioice's consent checks, one try of 0.5 s, expire the publisher)."""
    publisher = await start_publisher(sfu, "s")
    burst = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", 0))
        probe.setblocking(False)
        target = ("127.0.0.1", sfu.udp_port)
        # The loop does not run between these sends: all of them queue on the shared socket.
        for index in range(100):
            burst.sendto(b"\x80\x60 stray media %d" % index, target)
        probe.sendto(binding_request(f"{ice_ufrag(publisher.answer)}:x"), target)  # 401
        iterations = 0
        while not answered(probe) and iterations < 1000:
            await asyncio.sleep(0)
            iterations += 1
        assert iterations <= 5, f"the check waited {iterations} loop iterations"
    finally:
        burst.close()
        probe.close()
        await publisher.pc.close()
