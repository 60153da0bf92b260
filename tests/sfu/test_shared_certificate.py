"""One DTLS certificate for every sfu peer connection (sfu/aiortc_hooks/memory.py).

Real aiortc peers on 127.0.0.1: they check the answer's fingerprint against the certificate the
sfu presents in the DTLS handshake, so a viewer decoding frames proves the two match.
"""

from __future__ import annotations

import asyncio
import re
import time

from aiortc import RTCCertificate

from sfu import Sfu, aiortc_hooks
from tests.sfu.support.peers import assert_live_pattern, start_publisher, start_viewer
from tests.support.rtc_peers import accept_answer, viewer_peer

FINGERPRINT = re.compile(r"^a=fingerprint:(\S+) (\S+)\r?$", re.MULTILINE)


def fingerprints(sdp: str) -> set[tuple[str, str]]:
    return set(FINGERPRINT.findall(sdp))


def servers_fingerprints() -> set[tuple[str, str]]:
    certificate = aiortc_hooks.shared_certificate()
    return {(f.algorithm, f.value.upper()) for f in certificate.getFingerprints()}


async def test_every_answer_carries_the_servers_fingerprint_and_viewers_decode(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "s1")
    viewers = [await start_viewer(sfu, "s1") for _ in range(2)]
    try:
        for answer in [publisher.answer, *(viewer.answer for viewer in viewers)]:
            announced = {(algorithm, value.upper()) for algorithm, value in fingerprints(answer)}
            assert announced and announced <= servers_fingerprints()
        await asyncio.gather(*(viewer.wait_frames(30) for viewer in viewers))
        for viewer in viewers:
            assert_live_pattern(viewer.numbers, publisher.track.sent)
    finally:
        for viewer in viewers:
            await viewer.close()
        await publisher.pc.close()


async def test_a_viewer_told_another_fingerprint_refuses_the_server(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "s1")
    viewer = await viewer_peer()
    try:
        _, answer = await sfu.subscribe("s1", viewer.pc.localDescription.sdp)
        other = RTCCertificate.generateCertificate().getFingerprints()[0]
        forged = FINGERPRINT.sub(f"a=fingerprint:{other.algorithm} {other.value}", answer)
        await accept_answer(viewer.pc, forged)
        deadline = time.monotonic() + 10.0
        while viewer.pc.connectionState != "failed":
            assert time.monotonic() < deadline, viewer.pc.connectionState
            await asyncio.sleep(0.05)
        assert viewer.decoded == 0
    finally:
        await viewer.close()
        await sfu.unpublish("s1")  # before the publisher leaves: aiortc would close it twice
        await publisher.pc.close()
