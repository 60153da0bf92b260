"""Types of the C extension sfu._fanout (sfu/_fanout.c); sfu/fanout.py documents behaviour."""

import asyncio
from typing import Any

from pylibsrtp import Session

def bind_srtp_protect(address: int) -> None: ...

class FanoutTarget:
    packets: int
    bytes: int
    frames: int
    sent_packets: int
    sent_octets: int
    last_timestamp: int
    send_errors: int
    ssrc: int
    payload_type: int
    seq_offset: int
    ts_offset: int
    first_seq: int
    block_index: int
    closed: bool
    def __init__(
        self,
        session: Session,
        srtp_context: int,
        transport: asyncio.DatagramTransport,
        remote_addr: tuple[Any, ...],
        *,
        ssrc: int,
        payload_type: int,
        seq_offset: int,
        ts_offset: int,
        first_seq: int,
        block_index: int,
    ) -> None: ...
    def take_counts(self) -> tuple[int, int, int]: ...
    def take_marks(self) -> list[tuple[int, int]]: ...
    def set_route(
        self, transport: asyncio.DatagramTransport, remote_addr: tuple[Any, ...]
    ) -> None: ...
    def close(self) -> None: ...

class Fanout:
    def add(self, target: FanoutTarget) -> None: ...
    def remove(self, target: FanoutTarget) -> None: ...
    def __len__(self) -> int: ...
    def forward(
        self,
        data: bytes,
        csrc_end: int,
        payload_start: int,
        payload_end: int,
        sequence_number: int,
        timestamp: int,
        marker: bool,
        frame_done: bool,
        blocks: tuple[bytes, ...],
        second: int,
        start: int = 0,
        stop: int = -1,
    ) -> int: ...
