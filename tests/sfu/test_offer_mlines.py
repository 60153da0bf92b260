"""Every valid offer is answered: m-lines the sfu cannot serve are rejected with port 0.

Real aiortc peers on 127.0.0.1: the viewer or publisher decodes / is received through the
m-lines that were accepted, whatever the order and subset of m-lines it offered.
"""

from __future__ import annotations

import asyncio

import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
)

from sfu import Sfu, UnsupportedOffer
from sfu.mlines import Sdp
from tests.sfu.support.peers import start_publisher, start_viewer
from tests.support.rtc_peers import PatternTrack, Viewer, accept_answer


def bundled_pc() -> RTCPeerConnection:
    """A client on one transport (max-bundle, as WHIP/WHEP clients and browsers' players use).

    aiortc ignores port 0 in answers: with its default "balanced" policy a rejected m-line that
    was offered first keeps a transport of its own that never connects, and blocks the rest.
    """
    return RTCPeerConnection(
        RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )


def media_lines(sdp: str) -> list[tuple[str, int]]:
    """(kind, port) of every m-line."""
    return [(s[0].split()[0][2:], int(s[0].split()[1])) for s in Sdp.split(sdp).sections]


def bundle(sdp: str) -> list[str]:
    line = next(line for line in Sdp.split(sdp).session if line.startswith("a=group:BUNDLE"))
    return line.split()[1:]


async def viewer_of(layout: list[str]) -> Viewer:
    """A receiving aiortc peer offering m-lines in ``layout`` order ("data": a data channel)."""
    viewer = Viewer(bundled_pc())
    for kind in layout:
        if kind == "data":
            viewer.pc.createDataChannel("chat")
        else:
            viewer.pc.addTransceiver(kind, direction="recvonly")

    @viewer.pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        viewer.tasks.append(asyncio.ensure_future(viewer._consume(track)))

    await viewer.pc.setLocalDescription(await viewer.pc.createOffer())
    return viewer


LAYOUTS = {
    "video only": (["video"], [("video", True)]),
    "audio only": (["audio"], [("audio", True)]),
    "video then audio": (["video", "audio"], [("video", True), ("audio", True)]),
    "audio then video": (["audio", "video"], [("audio", True), ("video", True)]),
    "an extra video": (
        ["video", "audio", "video"],
        [("video", True), ("audio", True), ("video", False)],
    ),
    "a data channel": (["video", "data"], [("video", True), ("application", False)]),
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=list(LAYOUTS))
async def test_viewer_offers_of_any_layout_are_answered(
    sfu: Sfu, layout: tuple[list[str], list[tuple[str, bool]]]
) -> None:
    await _view(sfu, layout, publisher_audio=True)


async def test_audio_m_line_of_a_stream_without_audio_is_rejected(sfu: Sfu) -> None:
    await _view(
        sfu, (["audio", "video"], [("audio", False), ("video", True)]), publisher_audio=False
    )


async def _view(
    sfu: Sfu, layout: tuple[list[str], list[tuple[str, bool]]], publisher_audio: bool
) -> None:
    offered, expected = layout
    publisher = await start_publisher(sfu, "s", audio=publisher_audio)
    viewer = await viewer_of(offered)
    try:
        viewer.subscriber_id, viewer.answer = await sfu.subscribe(
            "s", viewer.pc.localDescription.sdp
        )
        lines = media_lines(viewer.answer)
        assert [kind for kind, _ in lines] == [kind for kind, _ in expected]
        assert [port != 0 for _, port in lines] == [served for _, served in expected]
        served_mids = [
            s for s, (_, ok) in zip(Sdp.split(viewer.answer).sections, expected, strict=True) if ok
        ]
        assert len(bundle(viewer.answer)) == len(served_mids)
        await accept_answer(viewer.pc, viewer.answer)
        if ("video", True) in expected:
            await viewer.wait_frames(10)
            assert max(viewer.numbers) <= publisher.track.sent
        else:
            for _ in range(100):
                if viewer.audio_frames >= 10:
                    break
                await asyncio.sleep(0.05)
            assert viewer.audio_frames >= 10
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_offer_with_nothing_to_serve_is_unsupported(sfu: Sfu) -> None:
    await start_publisher(sfu, "s", audio=False)
    viewer = await viewer_of(["audio", "data"])
    try:
        with pytest.raises(UnsupportedOffer, match="the stream has no audio"):
            await sfu.subscribe("s", viewer.pc.localDescription.sdp)
        assert sfu.subscribers("s") == []
    finally:
        await viewer.close()


async def publisher_of(layout: list[str]) -> tuple[RTCPeerConnection, PatternTrack]:
    pc = bundled_pc()
    track = PatternTrack()
    for kind in layout:
        if kind == "video":
            pc.addTransceiver(track, direction="sendonly")
        elif kind == "audio":
            pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        elif kind == "data":
            pc.createDataChannel("chat")
        else:
            pc.addTransceiver(PatternTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, track


@pytest.mark.parametrize(
    ("offered", "served"),
    [
        (["audio", "video"], [True, True]),
        (["video", "second video", "audio"], [True, False, True]),
        (["video", "data"], [True, False]),
    ],
    ids=["audio then video", "an extra video", "a data channel"],
)
async def test_publisher_offers_of_any_layout_are_answered(
    sfu: Sfu, offered: list[str], served: list[bool]
) -> None:
    pc, track = await publisher_of(offered)
    viewer = None
    try:
        _, answer = await sfu.publish("s", pc.localDescription.sdp)
        assert [port != 0 for _, port in media_lines(answer)] == served
        await accept_answer(pc, answer)
        viewer = await start_viewer(sfu, "s", audio=True)
        await viewer.wait_frames(10)
        assert max(viewer.numbers) <= track.sent
    finally:
        if viewer is not None:
            await viewer.close()
        await pc.close()


def _audio_port_zero(sdp: str, bundle_only: bool) -> str:
    """The offer with its audio m-line on port 0 (and a=bundle-only, as GStreamer sends)."""
    offer = Sdp.split(sdp)
    for section in offer.sections:
        if section[0].startswith("m=audio"):
            fields = section[0].split(" ")
            section[0] = " ".join([fields[0], "0", *fields[2:]])
            if bundle_only:
                section.insert(1, "a=bundle-only")
    return offer.text()


@pytest.mark.parametrize("bundle_only", [True, False], ids=["bundle-only", "port 0"])
async def test_port_zero_m_lines_are_served_only_when_bundle_only(
    sfu: Sfu, bundle_only: bool
) -> None:
    """GStreamer's webrtcbin offers audio as bundle-only (port 0): it is received, while a
    plain port 0 m-line is one the offerer itself rejected."""
    pc, track = await publisher_of(["video", "audio"])
    viewer = None
    try:
        _, answer = await sfu.publish("s", _audio_port_zero(pc.localDescription.sdp, bundle_only))
        assert (dict(media_lines(answer))["audio"] != 0) is bundle_only
        await accept_answer(pc, answer)
        viewer = await start_viewer(sfu, "s", audio=True)
        await viewer.wait_frames(5)
        for _ in range(100):
            if viewer.audio_frames >= 5:
                break
            await asyncio.sleep(0.05)
        assert (viewer.audio_frames >= 5) is bundle_only
    finally:
        if viewer is not None:
            await viewer.close()
        await pc.close()
