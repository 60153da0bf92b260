"""Per-packet-per-viewer cost of the fan-out: native sfu._fanout against the Python reference.

Same run, same machine, real sockets on 127.0.0.1 and real libsrtp sessions (one per viewer,
as each viewer has its own DTLS): a 1,200-byte video packet with an extension block is fanned
out to N viewers, K times, for each implementation, and the CPU time of this process per
packet per viewer is printed with the ratio. Two layouts: every viewer on one sending socket
(the UDP mux) and one sending socket per viewer (RTC_UDP_PORT=0). The viewers' datagrams go to
a few sink sockets with tiny receive buffers (the kernel drops what overflows, as it would for a
remote viewer the packet has left for); the loopback receive path is included in both.

    .venv/bin/python bench/fanout_micro.py [--viewers 100 500] [--packets 400] \\
        [--profile SRTP_AEAD_AES_128_GCM]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

import pylibsrtp
from aiortc.rtcdtlstransport import SRTP_PROFILES

from sfu import aiortc_hooks, fanout
from sfu.rtp_rewrite import build_extension_block, parse_rtp

SINKS = 8


def make_packet() -> bytes:
    header = bytes([0x90, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x92])
    extension = bytes.fromhex("bede0001") + bytes([0x10, 0x01, 0, 0])
    return header + extension + bytes(range(256)) * 4 + bytes(1200 - 12 - 8 - 1024)


PROFILES = {profile.openssl_profile.decode(): profile for profile in SRTP_PROFILES}
PROFILE = PROFILES["SRTP_AES128_CM_SHA1_80"]  # --profile changes it


def session(index: int) -> pylibsrtp.Session:
    key = (index.to_bytes(4, "big") * 11)[: PROFILE.key_length + PROFILE.salt_length]
    policy = pylibsrtp.Policy(
        key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND, srtp_profile=PROFILE.libsrtp_profile
    )
    srtp = pylibsrtp.Session(policy)
    aiortc_hooks.widen_srtp_buffer(srtp)
    return srtp


async def datagram_socket(loop: asyncio.AbstractEventLoop) -> asyncio.DatagramTransport:
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    return transport


async def run(native: bool, viewers: int, packets: int, shared: bool, send: bool = True) -> float:
    """CPU microseconds per packet per viewer; ``send=False``: the sockets are closed first."""
    loop = asyncio.get_running_loop()
    sinks = []
    for _ in range(SINKS):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sink.bind(("127.0.0.1", 0))
        sinks.append(sink)
    senders = [await datagram_socket(loop) for _ in range(1 if shared else viewers)]
    out = fanout.new_fanout(native)
    for i in range(viewers):
        out.add(
            fanout.new_target(
                session(i),
                senders[0 if shared else i],
                sinks[i % SINKS].getsockname(),
                ssrc=i + 1,
                payload_type=96,
                seq_offset=i,
                ts_offset=i * 3,
                first_seq=0,
                block_index=0,
                native=native,
            )
        )
    if not send:  # every packet is rewritten and protected, then counted as a send error
        for sender in senders:
            sender.close()
        await asyncio.sleep(0)
    view = parse_rtp(make_packet())
    blocks = (build_extension_block([(3, b"\x01\x02\x03")]),)
    data, csrc_end, start, end = view.data, view.csrc_end, view.payload_start, view.payload_end
    started = time.process_time()
    for seq in range(packets):
        last = seq % 40 == 39  # a frame of 40 packets
        out.forward(data, csrc_end, start, end, seq, seq * 3000, last, last, blocks, seq // 170)
        await asyncio.sleep(0)  # let asyncio flush anything the Python path had to buffer
    elapsed = time.process_time() - started
    for sender in senders:
        sender.close()
    for sink in sinks:
        sink.close()
    await asyncio.sleep(0)
    return elapsed / (packets * viewers) * 1e6


def kernel_floor(datagrams: int) -> float:
    """CPU microseconds per datagram of a bare sendto loop to the same kind of sinks."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    sinks = []
    for _ in range(SINKS):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sink.bind(("127.0.0.1", 0))
        sinks.append(sink)
    addresses = [sink.getsockname() for sink in sinks]
    datagram = make_packet() + bytes(10)  # the SRTP auth tag
    started = time.process_time()
    for i in range(datagrams):
        sender.sendto(datagram, addresses[i % SINKS])
    elapsed = time.process_time() - started
    for sock in [sender, *sinks]:
        sock.close()
    return elapsed / datagrams * 1e6


async def main(viewer_counts: list[int], packets: int) -> None:
    print(f"fan-out of a 1200-byte packet, {packets} packets, CPU us per packet per viewer")
    print(f"SRTP profile {PROFILE.openssl_profile.decode()}")
    floor = kernel_floor(100_000)
    print(f"kernel floor (bare sendto loop, loopback delivery included): {floor:.2f} us/datagram")
    print("native w/o send: rewrite + srtp_protect only (the sockets closed beforehand)")
    header = ("viewers", "sockets", "python", "native", "ratio", "native w/o send")
    print("{:>8} {:>10} {:>8} {:>8} {:>6} {:>16}".format(*header))
    for viewers in viewer_counts:
        for shared in (True, False):
            python = await run(False, viewers, packets, shared)
            native = await run(True, viewers, packets, shared)
            unsent = await run(True, viewers, packets, shared, send=False)
            layout = "one" if shared else "per viewer"
            ratio = f"{python / native:.1f}x"
            row = (viewers, layout, f"{python:.2f}", f"{native:.2f}", ratio, f"{unsent:.2f}")
            print("{:>8} {:>10} {:>8} {:>8} {:>6} {:>16}".format(*row))


if __name__ == "__main__":
    if not fanout.NATIVE_AVAILABLE:
        raise SystemExit("sfu._fanout is not built: pip install -e . (or setup.py build_ext)")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--packets", type=int, default=400)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="SRTP_AES128_CM_SHA1_80")
    options = parser.parse_args()
    PROFILE = PROFILES[options.profile]
    asyncio.run(main(options.viewers, options.packets))
