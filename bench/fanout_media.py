"""The stream of bench/sfu_fanout.py: a pre-encoded 720p30 VP8 clip, published over WHIP as RTP.

The publisher writes its send time (CLOCK_REALTIME) into the abs-send-time header extension of
every packet; the sfu forwards header extensions (only their ids are renumbered) and SRTP leaves
them in clear text, so viewers can read when each packet left the publisher.
"""

from __future__ import annotations

import asyncio
import fractions
import os
import struct
import time
from typing import Any

HOST = "127.0.0.1"
WIDTH, HEIGHT, FPS = 1280, 720, 30
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
MAX_PUBLISH_SECONDS = 3600  # bound: the publisher stops on its own after an hour
SDP_HEADERS = {"Content-Type": "application/sdp"}

Clip = list[list[bytes]]  # RTP payloads per frame


# --- shared by the processes --------------------------------------------------------------------


def pin(core: int) -> None:
    """Pin this process to one core when the machine has it."""
    if core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def loopback_only() -> None:
    """aioice leaves 127.0.0.1 out of host candidates: put it back for this process."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [HOST]


def client_pc() -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection

    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def abs_send_time(seconds: float) -> int:
    """abs-send-time: 24-bit 6.18 fixed-point seconds, modulo 64 s."""
    return int(seconds * (1 << 18)) & 0xFFFFFF


def since_stamp(stamp: int, now: float) -> float:
    """Seconds from a 24-bit abs-send-time ``stamp`` to ``now``, in [-4, 60) (it wraps at 64 s).

    Small negative values are clock granularity; an overloaded server can add tens of seconds.
    """
    elapsed = ((abs_send_time(now) - stamp) & 0xFFFFFF) / (1 << 18)
    return elapsed - 64 if elapsed >= 60 else elapsed


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


# --- the clip -----------------------------------------------------------------------------------


def encode_clip(frames: int, bitrate: int) -> tuple[Clip, Clip]:
    """RTP payloads per frame: the clip (one keyframe) and an all-keyframe copy (for PLIs)."""
    import numpy as np

    rng = np.random.default_rng(7)
    # Fine texture drifting slowly: libvpx lands near 1.6 Mb/s at 720p with keyframes of
    # ~40 packets, as a real camera stream would have.
    texture = rng.integers(68, 188, (HEIGHT // 8, WIDTH // 8), dtype=np.uint8)
    clip = _encode(texture, frames, gop=frames * 10, bitrate=bitrate)
    # The keyframe copy gets a keyframe-sized budget (rate control would starve it otherwise).
    intra = _encode(texture, frames, gop=1, bitrate=bitrate * 6)
    return clip, intra


def _encode(texture: Any, frames: int, gop: int, bitrate: int) -> Clip:
    import av
    import numpy as np
    from aiortc.codecs.vpx import Vp8Encoder

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.bit_rate, codec.gop_size = bitrate, gop
    # "good", not "realtime": realtime trades bitrate for speed when the machine is busy.
    codec.options = {"deadline": "good", "cpu-used": "5", "lag-in-frames": "0"}
    packer = Vp8Encoder()
    clip: Clip = []
    for i in range(frames):
        moved = np.roll(texture, (i // 4, i // 3), axis=(0, 1))
        luma = np.kron(moved, np.ones((8, 8), dtype=np.uint8))
        image = np.stack([luma, luma, luma], axis=2)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        clip += [packer.pack(packet)[0] for packet in codec.encode(frame)]
    clip += [packer.pack(packet)[0] for packet in codec.encode(None)]
    return clip[:frames]


def describe(clip: Clip, intra: Clip) -> str:
    kbps = sum(len(p) for frame in clip for p in frame) * 8 * FPS / len(clip) / 1000
    packets = sum(len(frame) for frame in clip) / len(clip)
    keyframes = sum(len(f) for f in intra) / len(intra)
    return (
        f"clip: {len(clip)} frames {WIDTH}x{HEIGHT}@{FPS} VP8, {kbps:.0f} kb/s, "
        f"{packets:.1f} packets/frame, keyframe {len(clip[0])} packets, "
        f"on PLI {keyframes:.0f} packets"
    )


# --- publisher process --------------------------------------------------------------------------


def publisher_main(
    url: str, stream_id: str, key: str, clips: tuple[Clip, Clip], sent: Any, core: int
) -> None:
    pin(core)
    loopback_only()
    asyncio.run(publish_clip(url, stream_id, key, clips, sent))


async def whip(pc: Any, url: str, stream_id: str, key: str) -> str:
    """POST the offer to WHIP with the stream key; the answer."""
    import aiohttp

    headers = {**SDP_HEADERS, "Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as http:
        post = http.post(f"{url}/whip/{stream_id}", data=pc.localDescription.sdp, headers=headers)
        async with post as response:
            if response.status != 201:
                raise RuntimeError(f"WHIP {response.status}: {await response.text()}")
            return await response.text()


async def publish_clip(
    url: str, stream_id: str, key: str, clips: tuple[Clip, Clip], sent: Any
) -> None:
    """Send the pre-encoded clip as RTP at 30 fps; a PLI swaps in a keyframe."""
    from aiortc import RTCRtpSender, RTCSessionDescription

    from sfu.negotiation import negotiated_tracks
    from sfu.subscriber import HeldTrack

    pc = client_pc()
    transceiver = pc.addTransceiver(HeldTrack("video"), direction="sendonly")
    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name == "VP8"]
    transceiver.setCodecPreferences(vp8)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await whip(pc, url, stream_id, key)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    negotiated = negotiated_tracks(answer)[transceiver.mid]
    connected = asyncio.Event()

    def on_state() -> None:
        if pc.connectionState == "connected":
            connected.set()
        elif pc.connectionState in ("disconnected", "failed", "closed"):  # the stream ends
            print(f"{time.strftime('%H:%M:%S')} publisher: {pc.connectionState}", flush=True)

    pc.on("connectionstatechange", on_state)
    await asyncio.wait_for(connected.wait(), 30)
    payload_type = negotiated.codec.payloadType
    if payload_type is None:
        raise RuntimeError("the answer has no payload type for VP8")
    await send_loop(
        transceiver.sender,
        payload_type,
        negotiated.extension_ids[ABS_SEND_TIME_URI],
        clips,
        sent,
    )


async def send_loop(
    sender: Any, payload_type: int, ast_id: int, clips: tuple[Clip, Clip], sent: Any
) -> None:
    """30 frames a second, each packet stamped with abs-send-time; ``sent``: frames so far."""
    from sfu import aiortc_hooks

    clip, intra = clips
    # One-byte extension block, 1 word long: abs-send-time (3-byte element, stamped per packet).
    extension = struct.pack("!HHB", 0xBEDE, 1, (ast_id << 4) | 2)
    ssrc, _ = aiortc_hooks.sender_ssrcs(sender)
    want_keyframe = [False]

    async def ignore_nack(sequence_number: int) -> None:
        return None

    aiortc_hooks.intercept_sender(sender, lambda: want_keyframe.__setitem__(0, True), ignore_nack)
    output = aiortc_hooks.rtp_output(sender.transport)
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
