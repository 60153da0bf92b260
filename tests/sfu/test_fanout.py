"""The fan-out, native and reference: what each viewer receives is rewrite_rtp + libsrtp, exactly.

Every test runs both implementations over real UDP sockets on 127.0.0.1 and real libsrtp
sessions; the native one is skipped only where it is not built, and `make test` sets
VILOKANAM_REQUIRE_NATIVE=1 so that CI never skips it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import statistics
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiortc.rtcdtlstransport import SRTP_PROFILES, SRTPProtectionProfile

from sfu import fanout
from sfu.rtp_rewrite import build_extension_block, seq_add, ts_add
from tests.sfu.support.fanout_net import Net, network, packet, rss_pages, srtp_pair
from tests.sfu.support.fanout_net import forward as fan

EXTENSION = build_extension_block([(1, b"\x01\x02\x03"), (4, b"0")])
SECOND = 1_700_000_000


@pytest.fixture(params=[False, True], ids=["python", "native"])
async def net(request: pytest.FixtureRequest) -> AsyncIterator[Net]:
    if request.param and not fanout.NATIVE_AVAILABLE:
        pytest.skip("sfu._fanout is not built")
    async with network(request.param) as net:
        yield net


def test_native_module_is_built_where_required() -> None:
    if os.environ.get("VILOKANAM_REQUIRE_NATIVE") == "1":
        assert fanout.NATIVE_AVAILABLE, "sfu._fanout failed to build: run setup.py build_ext"
    assert isinstance(fanout.new_fanout(), fanout.PyFanout) != fanout.NATIVE_AVAILABLE


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"marker": True},
        {"csrcs": (7, 8)},
        {"padding": 5},
        {"extension": b"\xbe\xde\x00\x01\x10\xaa\x00\x00"},
        {"csrcs": (1,), "extension": b"\xbe\xde\x00\x01\x10\xaa\x00\x00", "padding": 3},
    ],
    ids=["plain", "marker", "csrcs", "padding", "extension", "all"],
)
@pytest.mark.parametrize("block", [b"", EXTENSION], ids=["no-block", "block"])
async def test_each_viewer_gets_rewrite_rtp_then_srtp(
    net: Net, shape: dict[str, object], block: bytes
) -> None:
    viewers = [await net.viewer(), await net.viewer(block_index=1, payload_type=111)]
    out = fanout.new_fanout(net.native)
    for viewer in viewers:
        out.add(viewer.target)
    view = packet(**shape)  # type: ignore[arg-type]
    assert fan(out, view, (block, EXTENSION)) == 2
    first = await viewers[0].check_next(view, block)
    second = await viewers[1].check_next(view, EXTENSION)
    assert bool(first[0] & 0x10) == bool(block) and second[0] & 0x10
    assert first[0] & 0x0F == len(shape.get("csrcs", ()))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [13, 200, 1356, 1357, 1400, 1500])
async def test_packets_up_to_a_full_mtu(net: Net, size: int) -> None:
    viewer = await net.viewer()
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    view = packet(payload=bytes(range(256)) * 6)
    view = packet(payload=view.data[: size - 12])
    assert len(view.data) == size
    assert fan(out, view) == 1
    await viewer.check_next(view, b"")
    assert viewer.target.send_errors == 0


@pytest.mark.parametrize("profile", SRTP_PROFILES, ids=lambda p: p.openssl_profile.decode())
async def test_every_srtp_profile_aiortc_negotiates(
    net: Net, profile: SRTPProtectionProfile
) -> None:
    viewer = await net.viewer(profile=profile)
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    for seq, size in ((1, 100), (2, 1500)):
        view = packet(seq=seq, payload=bytes(size - 12))
        assert fan(out, view) == 1
        await viewer.check_next(view, b"")


async def test_a_packet_too_long_for_srtp_is_a_send_error(net: Net) -> None:
    viewer, other = await net.viewer(), await net.viewer()
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    out.add(other.target)
    assert fan(out, packet(payload=bytes(2048 - 144 - 12 + 1))) == 0
    assert (viewer.target.send_errors, other.target.send_errors) == (1, 1)
    assert viewer.target.take_counts() == (0, 0, 0)
    view = packet(seq=11)
    assert fan(out, view) == 2
    await viewer.check_next(view, b"")


async def test_a_packet_libsrtp_refuses_is_a_send_error(net: Net) -> None:
    viewer, other = await net.viewer(), await net.viewer()
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    first = packet(seq=5)
    assert fan(out, first) == 1
    await viewer.check_next(first, b"")
    out.add(other.target)
    # The same sequence number again: this session does not allow repeated sends (replay).
    assert fan(out, first) == 1
    await other.check_next(first, b"")
    assert viewer.target.send_errors == 1 and viewer.target.sent_packets == 1


@pytest.mark.parametrize(
    ("seq", "ts", "seq_offset", "ts_offset"),
    [(65535, 0xFFFFFFFF, 1, 1), (65000, 0xFFFFFF00, 1000, 0x200), (5, 7, 0xFFFF, 0xFFFFFFFF)],
)
async def test_offsets_wrap_around(
    net: Net, seq: int, ts: int, seq_offset: int, ts_offset: int
) -> None:
    viewer = await net.viewer(seq_offset=seq_offset, ts_offset=ts_offset, first_seq=seq)
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    view = packet(seq=seq, ts=ts)
    assert fan(out, view) == 1
    sent = await viewer.check_next(view, b"")
    assert int.from_bytes(sent[2:4], "big") == seq_add(seq, seq_offset)
    assert int.from_bytes(sent[4:8], "big") == ts_add(ts, ts_offset)
    assert viewer.target.last_timestamp == ts_add(ts, ts_offset)


async def test_packets_before_first_seq_are_skipped_across_the_wrap(net: Net) -> None:
    viewer = await net.viewer(first_seq=65530)
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    assert fan(out, packet(seq=65529)) == 0  # a late retransmission from before the start
    assert fan(out, packet(seq=40000)) == 0  # 25530 behind: before the start too
    for seq in (65530, 65535, 3):  # at and after the start, across the 16-bit wrap
        view = packet(seq=seq)
        assert fan(out, view) == 1
        await viewer.check_next(view, b"")
    assert viewer.target.sent_packets == 3 and viewer.target.send_errors == 0


async def test_counters_and_marks(net: Net) -> None:
    viewer = await net.viewer(seq_offset=100)
    target = viewer.target
    out = fanout.new_fanout(net.native)
    out.add(target)
    sizes = []
    for seq, second, marker in [(1, SECOND, False), (2, SECOND, True), (3, SECOND + 1, False)]:
        view = packet(seq=seq, ts=seq * 10, marker=marker)
        fan(out, view, frame_done=marker, second=second)
        sizes.append(len(await viewer.inbox.next()))
    assert target.take_counts() == (3, sum(sizes), 1)
    assert target.take_counts() == (0, 0, 0)
    assert target.take_marks() == [(SECOND, 101), (SECOND + 1, 103)]
    assert target.take_marks() == []
    fan(out, packet(seq=4, ts=40), second=SECOND)  # a clock stepped back opens no second
    fan(out, packet(seq=5, ts=50), second=SECOND + 1)  # nor does the second already marked
    fan(out, packet(seq=6, ts=60), second=SECOND + 5)
    assert target.take_marks() == [(SECOND + 5, 106)]
    assert (target.sent_packets, target.sent_octets) == (6, 6 * 102)  # lifetime, payload bytes
    assert target.last_timestamp == 60 + 90000
    assert target.take_counts()[0] == 3


async def test_start_and_stop_slice_the_targets(net: Net) -> None:
    viewers = [await net.viewer() for _ in range(4)]
    out = fanout.new_fanout(net.native)
    for viewer in viewers:
        out.add(viewer.target)
    out.add(viewers[0].target)  # adding twice adds once
    assert len(out) == 4
    assert fan(out, packet(seq=1), start=1, stop=3) == 2
    assert fan(out, packet(seq=2), start=3) == 1
    assert fan(out, packet(seq=3), start=0, stop=1) == 1
    assert fan(out, packet(seq=4), start=9) == 0
    for viewer, seq in zip(viewers, (3, 1, 1, 2), strict=True):
        await viewer.check_next(packet(seq=seq), b"")
    await asyncio.sleep(0.05)
    assert all(viewer.inbox.nothing_more() for viewer in viewers)
    assert [v.target.sent_packets for v in viewers] == [1, 1, 1, 1]


async def test_remove_and_close_stop_sending(net: Net) -> None:
    kept, removed, closed = [await net.viewer() for _ in range(3)]
    out = fanout.new_fanout(net.native)
    for viewer in (kept, removed, closed):
        out.add(viewer.target)
    out.remove(removed.target)
    closed.target.close()
    assert len(out) == 2
    view = packet()
    assert fan(out, view) == 1
    await kept.check_next(view, b"")
    with pytest.raises(ValueError):
        out.remove(removed.target)
    assert removed.inbox.nothing_more() and closed.inbox.nothing_more()
    assert closed.target.sent_packets == 0 and closed.target.send_errors == 0


async def test_a_closed_socket_is_a_send_error_and_others_still_receive(net: Net) -> None:
    gone_socket, gone_inbox = await net.socket()
    gone = await net.viewer(sender=gone_socket)
    first, last = await net.viewer(), await net.viewer()
    out = fanout.new_fanout(net.native)
    for viewer in (first, gone, last):
        out.add(viewer.target)
    gone_socket.close()
    await gone_inbox.lost.wait()  # the socket itself is closed now
    for seq in (1, 2):
        view = packet(seq=seq)
        assert fan(out, view) == 2
        await first.check_next(view, b"")
        await last.check_next(view, b"")
    assert gone.target.send_errors == 2 and gone.target.sent_packets == 0
    assert gone.target.take_counts() == (0, 0, 0) and gone.target.take_marks() == []


async def test_a_route_on_an_already_closed_transport_only_counts_errors(net: Net) -> None:
    closed_socket, closed_inbox = await net.socket()
    closed_socket.close()
    await closed_inbox.lost.wait()
    born_dead = await net.viewer(sender=closed_socket)
    moved, other = await net.viewer(), await net.viewer()
    moved.target.set_route(closed_socket, ("127.0.0.1", 9))
    out = fanout.new_fanout(net.native)
    for viewer in (born_dead, moved, other):
        out.add(viewer.target)
    view = packet()
    assert fan(out, view) == 1
    await other.check_next(view, b"")
    assert born_dead.target.send_errors == moved.target.send_errors == 1


async def test_set_route_moves_the_target_to_another_socket_and_address(net: Net) -> None:
    viewer = await net.viewer()
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    first = packet(seq=1)
    fan(out, first)
    await viewer.check_next(first, b"")
    new_sender, _ = await net.socket()
    new_receiver, new_inbox = await net.socket()
    viewer.target.set_route(new_sender, new_receiver.get_extra_info("sockname"))
    viewer.inbox = new_inbox
    second = packet(seq=2)
    assert fan(out, second) == 1
    await viewer.check_next(second, b"")


async def test_ipv6_routes(net: Net) -> None:
    try:
        sender, _ = await net.socket("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    viewer = await net.viewer(sender=sender, host="::1")  # remote_addr: (host, port, 0, 0)
    out = fanout.new_fanout(net.native)
    out.add(viewer.target)
    view = packet()
    assert fan(out, view) == 1
    await viewer.check_next(view, b"")


async def test_hundreds_of_targets_on_one_socket_each_get_one_copy(net: Net) -> None:
    viewers = [await net.viewer(block_index=i % 3) for i in range(150)]
    out = fanout.new_fanout(net.native)
    for viewer in viewers:
        out.add(viewer.target)
    blocks = (b"", EXTENSION, build_extension_block([(2, b"x")]))
    view = packet(payload=bytes(300))
    assert fan(out, view, blocks) == 150
    for i, viewer in enumerate(viewers):
        await viewer.check_next(view, blocks[i % 3])
    await asyncio.sleep(0.05)
    assert all(viewer.inbox.nothing_more() for viewer in viewers)


async def test_a_missing_extension_block_raises_before_sending(net: Net) -> None:
    viewers = [await net.viewer(), await net.viewer(block_index=2)]
    out = fanout.new_fanout(net.native)
    for viewer in viewers:
        out.add(viewer.target)
    with pytest.raises(IndexError):
        fan(out, packet(), (b"", b""))
    assert fan(out, packet(), (b"", b""), stop=1) == 1  # the slice needs no block 2
    with pytest.raises(ValueError):
        out.forward(b"\x80" * 20, 12, 16, 14, 1, 1, False, False, (b"",), SECOND)


@pytest.mark.parametrize(
    ("field", "value"), [("payload_type", 128), ("seq_offset", 0x10000), ("ssrc", -1)]
)
async def test_target_fields_out_of_range_are_refused(net: Net, field: str, value: int) -> None:
    with pytest.raises((ValueError, OverflowError), match=field):
        await net.viewer(**{field: value})


native_only = pytest.mark.skipif(not fanout.NATIVE_AVAILABLE, reason="sfu._fanout is not built")


@native_only
async def test_native_a_datagram_the_kernel_refuses_is_dropped_mid_batch() -> None:
    # The reference hands kernel errors to asyncio (error_received), as the sfu did before.
    async with network(native=True) as net:
        viewers = [await net.viewer() for _ in range(4)]
        refused = fanout.new_target(
            srtp_pair()[0],
            net.sender,
            ("255.255.255.255", 9),  # broadcast without SO_BROADCAST: EACCES, nothing leaves
            ssrc=1,
            payload_type=96,
            seq_offset=0,
            ts_offset=0,
            first_seq=0,
            block_index=0,
            native=True,
        )
        out = fanout.new_fanout(native=True)
        for target in [viewers[0].target, refused, *(v.target for v in viewers[1:])]:
            out.add(target)
        view = packet()
        assert fan(out, view) == 4
        for viewer in viewers:
            await viewer.check_next(view, b"")
        assert refused.send_errors == 1 and refused.sent_packets == 0
        assert all(v.target.send_errors == 0 for v in viewers)


@native_only
async def test_native_targets_and_packets_leak_no_memory() -> None:
    async with network(native=True) as net:
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # overflows silently
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sink.bind(("127.0.0.1", 0))
        try:
            for _ in range(30):  # a warm-up: interpreter and library caches fill
                churn_targets(net, sink.getsockname())
            rss_before = rss_pages()
            leaked = [blocks_leaked_by(churn_targets, net, sink.getsockname()) for _ in range(30)]
            grown_kib = (rss_pages() - rss_before) * os.sysconf("SC_PAGE_SIZE") // 1024
        finally:
            sink.close()
    # Each round: 50 targets x 100 packets. A leak per target or per packet shows in every
    # round (50 or 100+ blocks); a cache filling late leaks in a few rounds.
    assert statistics.median(leaked) < 10, leaked
    assert grown_kib < 2048, grown_kib


def blocks_leaked_by(work: Callable[[Net, tuple[str, int]], None], *args: Any) -> int:
    """Interpreter memory blocks (objects, PyMem allocations) left behind by ``work``.

    The cycle collector is off meanwhile: nothing here makes cycles, and its runs would move
    the count (references alone free what ``work`` made).
    """
    gc.disable()
    try:
        before = sys.getallocatedblocks()
        work(*args)
        return sys.getallocatedblocks() - before
    finally:
        gc.enable()


def churn_targets(net: Net, sink: tuple[str, int]) -> None:
    """50 targets, each with its session: fed 100 packets (a mark each), read, closed, dropped."""
    out = fanout.new_fanout(native=True)
    targets = [
        fanout.new_target(
            srtp_pair()[0],
            net.sender,
            sink,
            ssrc=i + 1,
            payload_type=96,
            seq_offset=i,
            ts_offset=i,
            first_seq=0,
            block_index=i % 2,
            native=True,
        )
        for i in range(50)
    ]
    for target in targets:
        out.add(target)
    for seq in range(100):
        fan(out, packet(seq=seq, marker=seq % 10 == 9), (b"", EXTENSION), second=SECOND + seq)
    for target in targets:
        assert len(target.take_marks()) == 100 and target.take_counts()[0] == 100
        out.remove(target)
        target.close()
