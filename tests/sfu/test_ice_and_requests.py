"""ICE settings parsing, candidate announcing, and merged keyframe requests."""

from __future__ import annotations

import asyncio

import pytest

from sfu.ice import IceSettings, announce_address, ice_server, rtc_configuration
from sfu.keyframe_requests import KeyframeRequester


def test_ice_servers_come_only_from_settings() -> None:
    assert rtc_configuration(IceSettings()).iceServers == []
    turn = ice_server("turn:al%40ice:s3cret@turn.example.org:3478?transport=tcp")
    assert turn.urls == "turn:turn.example.org:3478?transport=tcp"
    assert (turn.username, turn.credential) == ("al@ice", "s3cret")
    stun = ice_server("stun:stun.example.org:3478")
    assert stun.urls == "stun:stun.example.org:3478" and stun.username is None
    with pytest.raises(ValueError):
        ice_server("http://example.org")


def test_announce_rewrites_host_candidates_only() -> None:
    sdp = "\r\n".join(
        [
            "c=IN IP4 10.0.0.5",
            "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host",
            "a=candidate:2 1 udp 1694498815 198.51.100.1 40000 typ srflx raddr 10.0.0.5 rport 1",
            "a=end-of-candidates",
        ]
    )
    lines = announce_address(sdp, "203.0.113.7").split("\r\n")
    assert lines[0] == "c=IN IP4 203.0.113.7"
    assert lines[1] == "a=candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host"
    assert lines[2].split()[4] == "198.51.100.1"
    assert announce_address(sdp, None) == sdp


async def test_keyframe_requests_are_merged_and_rate_limited() -> None:
    sent: list[float] = []
    loop = asyncio.get_running_loop()

    async def send() -> None:
        sent.append(loop.time())

    requester = KeyframeRequester(send, min_interval=0.2)
    for _ in range(50):
        requester.request()
    await asyncio.sleep(0.05)
    assert len(sent) == 1  # fifty viewers joining at once: one PLI
    for _ in range(10):
        requester.request()
    await asyncio.sleep(0.3)
    assert len(sent) == 2  # the later requests are merged into one, not dropped
    assert sent[1] - sent[0] >= 0.19
