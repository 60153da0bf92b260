"""Acknowledged seconds: pure counters, no network (the clock is a variable)."""

from __future__ import annotations

from sfu.delivery import AcknowledgedSeconds, Delivery, DeliveryCounter

WINDOW = 3.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def send(counter: DeliveryCounter, clock: Clock, at: float, first_seq: int, count: int) -> None:
    """``count`` packets from ``first_seq`` at time ``at``, a frame ending every 10th."""
    clock.now = at
    for n, seq in enumerate(range(first_seq, first_seq + count), 1):
        counter.add(1_200, frame_done=n % 10 == 0, sequence_number=seq & 0xFFFF)


def test_a_second_counts_once_a_report_reaches_its_first_packet() -> None:
    clock = Clock(0)
    video, audio = DeliveryCounter(clock), DeliveryCounter(clock)
    seconds = AcknowledgedSeconds()
    for n, at in enumerate((10.2, 11.0, 12.5)):
        send(video, clock, at, 100 + 30 * n, 30)
        send(audio, clock, at + 0.1, 500 + 50 * n, 50)
    taken = seconds.take([video, audio], now=12.9, window=WINDOW, closed=False)
    assert taken == Delivery(packets=240, bytes=240 * 1_200, frames=24, seconds=(), pending=3)

    video.acknowledge(130)  # the first packet of second 11: 10 and 11 were received
    taken = seconds.take([video, audio], now=13.05, window=WINDOW, closed=False)
    assert (taken.seconds, taken.pending, taken.unacknowledged) == ((10, 11), 1, 0)
    audio.acknowledge(550)  # an older report on another track: nothing new
    assert seconds.take([video, audio], now=13.1, window=WINDOW, closed=False).seconds == ()

    # Silent from now on: second 12 expires once its window has passed, never charged.
    assert seconds.take([video, audio], now=15.9, window=WINDOW, closed=False).pending == 1
    taken = seconds.take([video, audio], now=16.0, window=WINDOW, closed=False)
    assert (taken.seconds, taken.pending, taken.unacknowledged) == ((), 0, 1)
    video.acknowledge(500)  # too late: the second is gone
    assert seconds.take([video, audio], now=16.1, window=WINDOW, closed=False).seconds == ()


def test_sequence_numbers_wrap_and_extended_reports_compare_on_16_bits() -> None:
    clock = Clock(0)
    video = DeliveryCounter(clock)
    seconds = AcknowledgedSeconds()
    send(video, clock, 20.5, 65_500, 30)  # 65500..65529
    send(video, clock, 21.5, 65_530, 30)  # 65530..65535, 0..23
    send(video, clock, 22.5, 24, 30)
    video.acknowledge(65_536 + 30)  # one cycle, seq 30: covers 21 and 22's first packet (24)
    assert seconds.take([video], now=23.1, window=WINDOW, closed=False).seconds == (20, 21, 22)


def test_a_closed_subscriber_reports_its_last_seconds_and_ends() -> None:
    clock = Clock(0)
    video = DeliveryCounter(clock)
    seconds = AcknowledgedSeconds()
    send(video, clock, 30.1, 1_000, 20)
    send(video, clock, 31.1, 1_020, 20)
    video.acknowledge(1_005)
    taken = seconds.take([video], now=31.5, window=WINDOW, closed=True)
    assert (taken.seconds, taken.pending, taken.unacknowledged, taken.ended) == ((30,), 0, 1, True)


def test_resends_and_a_clock_stepping_back_open_no_second() -> None:
    clock = Clock(40.5)
    video = DeliveryCounter(clock)
    video.add(1_200, False, 7)
    video.add(1_200, False)  # a retransmission: counted, not a new second
    clock.now = 39.9
    video.add(1_200, False, 8)
    assert list(video.marks) == [(40, 7)]
