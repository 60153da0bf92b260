"""Real UDP sockets on 127.0.0.1 and real libsrtp sessions for the fan-out tests."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import pylibsrtp
from aiortc.rtcdtlstransport import SRTP_AES128_CM_SHA1_80, SRTPProtectionProfile

from sfu import aiortc_hooks, fanout
from sfu.rtp_rewrite import RtpView, parse_rtp, rewrite_rtp, seq_add, ts_add

_keys = itertools.count(1)
RECEIVE_TIMEOUT = 5.0  # seconds: far above loopback delivery, only a failing test waits it


class Inbox(asyncio.DatagramProtocol):
    """Collects the datagrams one socket receives."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.lost = asyncio.Event()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()

    async def next(self) -> bytes:
        return await asyncio.wait_for(self.queue.get(), RECEIVE_TIMEOUT)

    def nothing_more(self) -> bool:
        return self.queue.empty()


def srtp_pair(
    profile: SRTPProtectionProfile = SRTP_AES128_CM_SHA1_80,
) -> tuple[pylibsrtp.Session, pylibsrtp.Session, pylibsrtp.Session]:
    """(tx, twin tx, rx) sessions on one fresh key: the twin predicts tx's ciphertext."""
    key = (next(_keys).to_bytes(2, "big") * 32)[: profile.key_length + profile.salt_length]

    def session(ssrc_type: int) -> pylibsrtp.Session:
        policy = pylibsrtp.Policy(
            key=key, ssrc_type=ssrc_type, srtp_profile=profile.libsrtp_profile
        )
        return pylibsrtp.Session(policy)

    out = pylibsrtp.Policy.SSRC_ANY_OUTBOUND
    sessions = (session(out), session(out), session(pylibsrtp.Policy.SSRC_ANY_INBOUND))
    for session in sessions:
        aiortc_hooks.widen_srtp_buffer(session)
    return sessions


@dataclass
class Viewer:
    """One target with its receiving socket and the sessions to check what it got."""

    target: fanout.Target
    inbox: Inbox
    twin: pylibsrtp.Session
    rx: pylibsrtp.Session
    fields: dict[str, int]

    def expected(self, view: RtpView, block: bytes) -> bytes:
        """What this viewer must decrypt: today's rewrite_rtp of ``view``."""
        return rewrite_rtp(
            view,
            ssrc=self.fields["ssrc"],
            sequence_number=seq_add(view.sequence_number, self.fields["seq_offset"]),
            timestamp=ts_add(view.timestamp, self.fields["ts_offset"]),
            payload_type=self.fields["payload_type"],
            extension_block=block,
        )

    async def check_next(self, view: RtpView, block: bytes) -> bytes:
        """Receive one datagram; assert it is exactly rewrite_rtp + protect of ``view``."""
        received = await self.inbox.next()
        expected = self.expected(view, block)
        assert self.rx.unprotect(received) == expected
        assert received == self.twin.protect(expected)  # byte for byte what libsrtp makes
        return expected


@dataclass
class Net:
    """A sending socket (the "nominated pair") and viewers, each with its own receiving socket."""

    native: bool
    sender: asyncio.DatagramTransport
    closers: list[asyncio.BaseTransport] = field(default_factory=list)
    _ssrcs: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    async def socket(self, host: str = "127.0.0.1") -> tuple[asyncio.DatagramTransport, Inbox]:
        loop = asyncio.get_running_loop()
        transport, inbox = await loop.create_datagram_endpoint(Inbox, local_addr=(host, 0))
        self.closers.append(transport)
        return transport, inbox

    async def viewer(
        self,
        sender: asyncio.DatagramTransport | None = None,
        host: str = "127.0.0.1",
        profile: SRTPProtectionProfile = SRTP_AES128_CM_SHA1_80,
        **overrides: int,
    ) -> Viewer:
        receiver, inbox = await self.socket(host)
        tx, twin, rx = srtp_pair(profile)
        fields = {
            "ssrc": next(self._ssrcs),
            "payload_type": 100,
            "seq_offset": 1000,
            "ts_offset": 90000,
            "first_seq": 0,
            "block_index": 0,
        } | overrides
        target = fanout.new_target(
            tx,
            sender or self.sender,
            receiver.get_extra_info("sockname"),
            native=self.native,
            **fields,
        )
        return Viewer(target, inbox, twin, rx, fields)


@asynccontextmanager
async def network(native: bool) -> AsyncIterator[Net]:
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(Inbox, local_addr=("127.0.0.1", 0))
    net = Net(native, cast(asyncio.DatagramTransport, sender))
    try:
        yield net
    finally:
        for transport in [*net.closers, sender]:
            transport.close()


def rss_pages() -> int:
    """Resident pages of this process (Linux)."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1])


def packet(
    *,
    seq: int = 10,
    ts: int = 5000,
    marker: bool = False,
    csrcs: tuple[int, ...] = (),
    extension: bytes = b"",
    payload: bytes = b"\x90\x80" + bytes(range(100)),
    padding: int = 0,
) -> RtpView:
    """A publisher's packet (optionally with CSRCs, an extension block and padding), parsed."""
    b0 = 0x80 | len(csrcs) | (0x10 if extension else 0) | (0x20 if padding else 0)
    header = bytes([b0, (0x80 if marker else 0) | 96]) + seq.to_bytes(2, "big")
    header += ts.to_bytes(4, "big") + (4242).to_bytes(4, "big")
    header += b"".join(c.to_bytes(4, "big") for c in csrcs) + extension
    pad = bytes(padding - 1) + bytes([padding]) if padding else b""
    return parse_rtp(header + payload + pad)


def forward(
    out: fanout.Fanout,
    view: RtpView,
    blocks: tuple[bytes, ...] = (b"",),
    *,
    frame_done: bool = False,
    second: int = 1_700_000_000,
    start: int = 0,
    stop: int = -1,
) -> int:
    """Fan ``view`` out the way the sfu does."""
    return fanout.forward_view(out, view, frame_done, blocks, second, start, stop)
