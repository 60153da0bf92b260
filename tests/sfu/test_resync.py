"""Resuming video after a drop, and pacing by time: pure logic, a variable clock."""

from __future__ import annotations

from sfu.downtrack import KEYFRAME_RETRY_SECONDS
from sfu.pacing import MIN_SLICE, Pacer
from sfu.resync import Resync
from sfu.rtp_rewrite import RtpView


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def packet(seq: int, timestamp: int, marker: bool = True) -> RtpView:
    data = bytes(12)
    return RtpView(data, marker, 96, seq & 0xFFFF, timestamp, 1, 12, (), 12, 12)


def test_after_a_drop_video_resumes_at_a_keyframe_with_the_skipped_numbers_taken_out() -> None:
    clock, asked = Clock(), []
    resync = Resync(lambda: asked.append(clock.now), clock)
    assert resync.resume(packet(65_534, 1), keyframe=False) == 0  # nothing dropped: go on
    resync.forwarded(packet(65_534, 1))
    resync.dropped()
    resync.dropped()  # one request for a run of drops
    assert asked == [100.0]
    assert resync.resume(packet(65_536, 2), keyframe=False) is None  # a delta frame: skipped
    clock.now += KEYFRAME_RETRY_SECONDS + 0.1
    assert resync.resume(packet(3, 3), keyframe=False) is None
    assert len(asked) == 2  # no keyframe came: asked again
    # 65535, 0 (dropped), 1 and 2 (never sent) are taken out; the wrap is handled.
    assert resync.resume(packet(3, 4), keyframe=True) == 4
    assert not resync.waiting


def test_a_late_packet_of_a_frame_already_started_completes_it() -> None:
    resync = Resync(lambda: None, Clock())
    resync.forwarded(packet(10, 900, marker=False))
    assert resync.completes_frame(packet(11, 900))
    assert not resync.completes_frame(packet(12, 1800))
    resync.forwarded(packet(11, 900, marker=True))
    assert not resync.completes_frame(packet(12, 900))  # that frame is whole


def test_the_pacer_slices_targets_to_fit_the_budget_and_asks_to_yield_once_spent() -> None:
    clock = Clock()
    pacer = Pacer(budget=0.002, clock=clock)
    pacer.spent(100, 100 * 10e-6)  # 10 us per target measured...
    pacer.spent(100, 100 * 10e-6)
    end = pacer.slice_end(0, 10_000)
    assert 150 <= end <= 200  # ...so about 2 ms worth of them
    clock.now += 0.0019
    assert not pacer.due()
    assert pacer.slice_end(end, 10_000) == end + MIN_SLICE  # little left: a minimal slice
    clock.now += 0.0002
    assert pacer.due()
    pacer.rested()
    assert not pacer.due()
