"""Publisher/subscriber lifecycle, cuts and delivery counters, with real peers."""

from __future__ import annotations

import asyncio
import time

from sfu import Delivery, IceSettings, Sfu, SfuEvent
from tests.sfu.support.peers import both_fanouts, start_publisher, start_viewer
from tests.support.rtc_peers import publisher_peer, viewer_peer


async def wait_for(predicate, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_unpublish_ends_every_viewers_track(sfu: Sfu) -> None:
    events: list[SfuEvent] = []
    sfu.on_event(events.append)
    publisher = await start_publisher(sfu, "s")
    viewers = [await start_viewer(sfu, "s") for _ in range(2)]
    for viewer in viewers:
        await viewer.wait_frames(5)
    await sfu.unpublish("s")
    for viewer in viewers:
        await asyncio.wait_for(viewer.ended.wait(), 5)
    assert not sfu.is_live("s")
    assert sfu.subscribers("s") == []
    ended = {(e.kind, e.peer_id, e.reason) for e in events}
    assert ("publisher_ended", publisher.publisher_id, "unpublished") in ended
    for viewer in viewers:
        assert ("subscriber_ended", viewer.subscriber_id, "publisher_ended") in ended
    # The stream can be published again.
    again = await start_publisher(sfu, "s")
    assert sfu.is_live("s")
    await again.pc.close()
    await publisher.pc.close()


async def test_publisher_leaving_is_reported_and_ends_viewers(sfu: Sfu) -> None:
    events: list[SfuEvent] = []
    sfu.on_event(events.append)
    publisher = await start_publisher(sfu, "s")
    viewer = await start_viewer(sfu, "s")
    await viewer.wait_frames(5)
    await publisher.pc.close()  # DTLS close_notify, like a browser tab closing
    await asyncio.wait_for(viewer.ended.wait(), 10)
    await wait_for(lambda: any(e.kind == "publisher_ended" for e in events))
    assert not sfu.is_live("s")
    event = next(e for e in events if e.kind == "publisher_ended")
    assert (event.stream_id, event.peer_id, event.reason) == ("s", publisher.publisher_id, "closed")


@both_fanouts
async def test_cut_stops_media_and_counters_for_that_viewer_only(sfu: Sfu) -> None:
    events: list[SfuEvent] = []
    sfu.on_event(events.append)
    publisher = await start_publisher(sfu, "s")
    kept, cut = await start_viewer(sfu, "s"), await start_viewer(sfu, "s")
    try:
        await kept.wait_frames(10)
        await cut.wait_frames(10)
        sfu.take_delivery()
        await asyncio.sleep(1.0)
        before = sfu.take_delivery()
        assert before[kept.subscriber_id].frames >= 15
        assert before[cut.subscriber_id].frames >= 15
        assert before[cut.subscriber_id].bytes > before[cut.subscriber_id].packets * 12

        await sfu.unsubscribe(cut.subscriber_id, reason="cut")
        sfu.take_delivery()  # flushes what was sent before the cut
        decoded = len(cut.numbers)
        await asyncio.sleep(1.0)
        after = sfu.take_delivery()
        assert after.get(cut.subscriber_id, Delivery(0, 0, 0)).packets == 0
        assert after[kept.subscriber_id].frames >= 15
        assert len(cut.numbers) <= decoded + 1  # at most a frame already in flight
        await asyncio.wait_for(cut.ended.wait(), 5)
        assert sfu.subscribers("s") == [kept.subscriber_id]
        assert any(
            e.kind == "subscriber_ended" and e.peer_id == cut.subscriber_id and e.reason == "cut"
            for e in events
        )
    finally:
        await kept.close()
        await cut.close()
        await publisher.pc.close()


@both_fanouts
async def test_delivery_counts_only_viewers_that_receive_media(sfu: Sfu) -> None:
    publisher = await start_publisher(sfu, "s")
    watching = await start_viewer(sfu, "s")
    # Answered but never connected: this viewer never applies the answer.
    silent_id, _ = await sfu.subscribe("s", watching.pc.localDescription.sdp)
    try:
        await watching.wait_frames(10)
        sfu.take_delivery()
        await asyncio.sleep(1.0)
        delivery = sfu.take_delivery()
        assert delivery[watching.subscriber_id].packets > 0
        assert delivery[silent_id].packets == delivery[silent_id].frames == 0
        assert set(sfu.subscribers("s")) == {watching.subscriber_id, silent_id}
    finally:
        await watching.close()
        await publisher.pc.close()


async def test_viewer_leaving_is_reported(sfu: Sfu) -> None:
    events: list[SfuEvent] = []
    sfu.on_event(events.append)
    publisher = await start_publisher(sfu, "s")
    viewer = await start_viewer(sfu, "s")
    await viewer.wait_frames(3)
    await viewer.close()
    await wait_for(lambda: sfu.subscribers("s") == [])
    assert any(e.kind == "subscriber_ended" and e.peer_id == viewer.subscriber_id for e in events)
    assert sfu.is_live("s")
    await publisher.pc.close()


@both_fanouts
async def test_seconds_count_only_once_the_viewer_acknowledges_them(sfu: Sfu) -> None:
    """aiortc's receiver reports (every 0.5-1.5 s) acknowledge each second sent, once.

    A loaded machine may stall for seconds, with no media sent (so none marked) in them: the
    test checks that every second marked is eventually acknowledged, never that media flowed
    in every second.
    """
    publisher = await start_publisher(sfu, "s", audio=True)
    viewer = await start_viewer(sfu, "s", audio=True)
    try:
        await viewer.wait_frames(3)
        reported: list[int] = []
        for _ in range(10):
            await asyncio.sleep(0.5)
            delivery = sfu.take_delivery()[viewer.subscriber_id]
            assert delivery.unacknowledged == 0 and not delivery.ended
            reported += delivery.seconds
        for sender in publisher.pc.getSenders():
            sender.track.stop()  # media stops; the viewer's reports go on
        pending = 1
        for _ in range(100):
            await asyncio.sleep(0.1)
            delivery = sfu.take_delivery()[viewer.subscriber_id]
            assert delivery.unacknowledged == 0 and not delivery.ended
            reported += delivery.seconds
            if (pending := delivery.pending) == 0:
                break
        assert pending == 0  # every second sent was acknowledged...
        assert reported == sorted(set(reported))  # ...and reported once, in order
        assert len(reported) >= 3
        assert reported[-1] <= int(time.time())
    finally:
        await viewer.close()
        await publisher.pc.close()


@both_fanouts
async def test_a_viewer_that_leaves_is_still_reported_for_what_it_acknowledged(
    sfu: Sfu,
) -> None:
    """Item 4: its peer connection stays open until its last receiver report arrives."""
    publisher = await start_publisher(sfu, "s")
    viewer = await start_viewer(sfu, "s")
    try:
        await viewer.wait_frames(5)
        reported = list(sfu.take_delivery()[viewer.subscriber_id].seconds)
        await asyncio.sleep((1.2 - time.time() % 1) % 1)  # leave early in a second: no report yet
        await sfu.unsubscribe(viewer.subscriber_id, "left")
        left_at = int(time.time())
        assert sfu.subscribers("s") == []
        ended = 0
        for _ in range(50):
            delivery = sfu.take_delivery().get(viewer.subscriber_id)
            if delivery is None:
                break
            reported += delivery.seconds
            ended += delivery.ended
            await asyncio.sleep(0.1)
        assert ended == 1  # reported as ended once, then no more
        assert reported and reported[-1] == left_at  # the second it left in, acknowledged
        await asyncio.wait_for(viewer.ended.wait(), 5)  # and then its media session closed
    finally:
        await viewer.close()
        await publisher.pc.close()


async def test_peers_that_never_connect_are_ended_and_never_counted(loopback: None) -> None:
    """Issue 10 item 10: an offer alone (ICE/DTLS never up) holds no view and no stream."""
    sfu = Sfu(IceSettings(host_addresses=("127.0.0.1",)), connect_timeout=1.0)
    events: list[SfuEvent] = []
    sfu.on_event(events.append)
    try:
        publisher = await start_publisher(sfu, "s")
        watching = await start_viewer(sfu, "s")
        silent = await viewer_peer()
        silent_id, _ = await sfu.subscribe("s", silent.pc.localDescription.sdp)  # no answer
        await watching.wait_frames(3)
        assert sfu.subscribers("s", connected_only=True) == [watching.subscriber_id]
        assert ("subscriber_connected", watching.subscriber_id) in {
            (e.kind, e.peer_id) for e in events
        }
        await wait_for(lambda: silent_id not in sfu.subscribers("s"), within=5)
        assert ("subscriber_ended", silent_id, "not_connected") in {
            (e.kind, e.peer_id, e.reason) for e in events
        }
        assert sfu.subscribers("s") == [watching.subscriber_id]

        never = await publisher_peer()
        await sfu.publish("t", never[0].localDescription.sdp)  # answer never applied
        await wait_for(lambda: not sfu.is_live("t"), within=5)
        assert any(
            e.kind == "publisher_ended" and e.stream_id == "t" and e.reason == "not_connected"
            for e in events
        )
        assert sfu.is_live("s")  # connected peers are untouched
        for pc in (silent.pc, never[0], publisher.pc):
            await pc.close()
        await watching.close()
    finally:
        await sfu.close()
