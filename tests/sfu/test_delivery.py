"""Acknowledged seconds: pure counters, no network."""

from __future__ import annotations

from sfu.delivery import AcknowledgedSeconds, Delivery, DeliveryCounter

WINDOW = 3.0


def send(counter: DeliveryCounter, at: float, first_seq: int, count: int) -> None:
    """``count`` packets from ``first_seq`` in second ``at``, a frame ending every 10th.

    As the fan-out target reports them at a take: counts, and the second's first packet.
    """
    counter.count(count, count * 1_200, count // 10)
    counter.mark([(int(at), first_seq & 0xFFFF)])


def test_a_second_counts_once_a_report_reaches_its_first_packet() -> None:
    video, audio = DeliveryCounter(), DeliveryCounter()
    seconds = AcknowledgedSeconds()
    for n, at in enumerate((10.2, 11.0, 12.5)):
        send(video, at, 100 + 30 * n, 30)
        send(audio, at + 0.1, 500 + 50 * n, 50)
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
    video = DeliveryCounter()
    seconds = AcknowledgedSeconds()
    send(video, 20.5, 65_500, 30)  # 65500..65529
    send(video, 21.5, 65_530, 30)  # 65530..65535, 0..23
    send(video, 22.5, 24, 30)
    video.acknowledge(65_536 + 30)  # one cycle, seq 30: covers 21 and 22's first packet (24)
    assert seconds.take([video], now=23.1, window=WINDOW, closed=False).seconds == (20, 21, 22)


def test_a_closed_subscriber_reports_its_last_seconds_and_ends() -> None:
    video = DeliveryCounter()
    seconds = AcknowledgedSeconds()
    send(video, 30.1, 1_000, 20)
    send(video, 31.1, 1_020, 20)
    video.acknowledge(1_005)
    taken = seconds.take([video], now=31.5, window=WINDOW, closed=True)
    assert (taken.seconds, taken.pending, taken.unacknowledged, taken.ended) == ((30,), 0, 1, True)


def test_a_clock_stepping_back_opens_no_second() -> None:
    video = DeliveryCounter()
    video.mark([(40, 7)])
    video.count(1, 1_200, 0)  # a retransmission: counted, not a new second
    video.mark([(39, 8), (40, 9)])
    assert list(video.marks) == [(40, 7)]
    assert video.take_counts() == (1, 1_200, 0)
