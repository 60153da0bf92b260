"""One incoming track and its fan-out to every subscriber: history, pacing, drop by age.

Per packet, Python does the per-track work once (history, keyframe detection, taps, one
extension block per distinct subscriber format) and then one ``Fanout.forward`` call serves
every started down-track (sfu/fanout.py: native or Python). Down-tracks not started yet
(subscriber not connected, or video waiting for a keyframe) are looked at in Python until they
start; they are few and short-lived.

Pacing (sfu/pacing.py): a packet to many targets is forwarded in slices, and the loop yields
whenever it has been held for the pacing budget (~2 ms), so a keyframe burst to N viewers never
delays other streams' packets, RTCP or signaling by more than a few milliseconds.

Overload, drop by age: every packet is queued with the time it arrived. One that waited longer
than ``max_age`` when its turn comes is dropped for the viewers (counted in ``dropped`` and in
``vilokanam_sfu_packets_dropped_total``): late media is worse than none, and a queue that only
grows would hold seconds of it. So is a packet arriving at a full queue. Video then resumes for
every viewer at a keyframe it asks for, with the skipped sequence numbers taken out, and a frame
is never cut in two (sfu/resync.py): viewers never decode a frame whose references they did not
get. Audio packets decode on their own: a drop is just a drop. Taps (the recorder) get every
packet, dropped or not.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial

import structlog
from aiortc import RTCRtpReceiver
from prometheus_client import Counter

from sfu import aiortc_hooks
from sfu.aiortc_hooks import SendRoute
from sfu.downtrack import DownTrack, OutputFormat, TargetFactory
from sfu.fanout import NATIVE_AVAILABLE, Fanout, Target, forward_view, new_fanout, new_target
from sfu.keyframe_requests import KeyframeRequester
from sfu.keyframes import starts_keyframe
from sfu.negotiation import NegotiatedTrack
from sfu.pacing import Pacer
from sfu.resync import Resync
from sfu.rtp_rewrite import RtpView, map_extensions, seq_diff
from sfu.tap import StreamTap

logger = structlog.get_logger(__name__)

HISTORY_SIZE = 1024  # packets kept per track for NACK (power of two); ~1.5 s of 720p VP8
MAX_QUEUED_PACKETS = 4096  # fan-out backlog beyond which packets are dropped, not queued
MAX_PACKET_AGE_S = 0.3  # a packet that waited longer than this in the queue is dropped


def use_native(choice: str | None) -> bool:
    """The fan-out setting ("native", "python"; None: native when built) as a decision."""
    if choice == "python":
        return False
    if not NATIVE_AVAILABLE and choice == "native":
        logger.warning("sfu_fanout_native_unavailable", using="python")
    return NATIVE_AVAILABLE


PACKETS_DROPPED = Counter(
    "vilokanam_sfu_packets_dropped_total",
    "Packets the fan-out dropped for viewers: too old when their turn came, or queue full",
    ["kind"],
)


class PublishedTrack:
    """One incoming track: shared packet history, keyframe requests, fan-out and taps.

    Started down-tracks are targets of ``fanout`` (native if ``native``, else Python); those
    whose subscriber is reached through a TURN relay are targets of a Python fan-out
    (aioice relays the data itself, there is no socket of ours to send on).
    """

    def __init__(
        self,
        negotiated: NegotiatedTrack,
        receiver: RTCRtpReceiver,
        keyframe_interval: float,
        *,
        native: bool = NATIVE_AVAILABLE,
        max_age: float = MAX_PACKET_AGE_S,
    ) -> None:
        self.kind = negotiated.kind
        self.negotiated = negotiated
        self.codec_name = negotiated.codec.name.upper() if negotiated.kind == "video" else "opus"
        self.clock_rate = negotiated.codec.clockRate
        self.ssrc: int | None = None
        self.downtracks: dict[str, DownTrack] = {}
        self.taps: list[StreamTap] = []
        self.received = 0
        self.dropped = 0
        self.max_age = max_age
        self._receiver = receiver
        self._history: list[RtpView | None] = [None] * HISTORY_SIZE
        self._queue: asyncio.Queue[tuple[RtpView, float] | None] = asyncio.Queue()
        self._pacer = Pacer()
        self.native = native
        self.fanout = new_fanout(native)
        self._relayed = new_fanout(False)
        self._waiting: list[DownTrack] = []
        self._homes: dict[DownTrack, Fanout] = {}  # started down-tracks: their fan-out
        self._removed: list[tuple[Fanout, Target]] = []  # taken out between packets
        self._formats: dict[tuple[object, ...], int] = {}  # extension key -> block index
        self._format_list: list[OutputFormat] = []
        self._sent: tuple[tuple[int, float], tuple[int, float]] = ((-1, 0.0), (-1, 0.0))
        self.keyframes = KeyframeRequester(self._send_pli, keyframe_interval)
        self._resync = Resync(self.request_keyframe, self._pacer.now)
        self._task = asyncio.ensure_future(self._run())

    async def _send_pli(self) -> None:
        if self.ssrc is not None:
            await aiortc_hooks.request_keyframe(self._receiver, self.ssrc)

    def request_keyframe(self) -> None:
        """Merged, rate-limited PLI toward the publisher (video only)."""
        if self.kind == "video":
            self.keyframes.request()

    # --- subscribers ----------------------------------------------------------------------------

    def attach(self, subscriber_id: str, downtrack: DownTrack) -> None:
        """Send this track to ``downtrack`` once it can start."""
        self.downtracks[subscriber_id] = downtrack
        self._waiting.append(downtrack)

    def detach(self, subscriber_id: str) -> None:
        """Stop sending to a subscriber at once (its target leaves the fan-out between packets)."""
        downtrack = self.downtracks.pop(subscriber_id, None)
        if downtrack is None:
            return
        downtrack.close()
        if downtrack in self._waiting:
            self._waiting.remove(downtrack)
        home = self._homes.pop(downtrack, None)
        if home is not None and downtrack.target is not None:
            self._removed.append((home, downtrack.target))

    def sent_at(self, timestamp: int) -> float | None:
        """Unix time the last packet with RTP ``timestamp`` was sent (one of the last two)."""
        for sent_timestamp, at in self._sent:
            if sent_timestamp == timestamp:
                return at
        return None

    # --- packets --------------------------------------------------------------------------------

    def push(self, view: RtpView) -> None:
        """Queue a packet from the publisher for fan-out."""
        if self.ssrc is None:
            self.ssrc = view.ssrc
        self.received += 1
        if self._queue.qsize() >= MAX_QUEUED_PACKETS:
            for tap in self.taps:
                tap.push(self.kind, view)
            self._drop()
            return
        self._queue.put_nowait((view, self._pacer.now()))

    def lookup(self, sequence_number: int) -> RtpView | None:
        """A recent packet by its original sequence number (for NACK answers)."""
        view = self._history[sequence_number % HISTORY_SIZE]
        if view is None or view.sequence_number != sequence_number:
            return None
        return view

    async def _run(self) -> None:
        queue, pacer = self._queue, self._pacer
        while True:
            if queue.empty():
                item = await queue.get()
                pacer.rested()  # the loop was free: other work ran
            else:
                item = queue.get_nowait()
            if item is None:
                return
            view, arrived = item
            for tap in self.taps:
                tap.push(self.kind, view)
            if pacer.now() - arrived > self.max_age and not self._completes_frame(view):
                self._drop()
                continue
            await self._fan_out(view)

    def _completes_frame(self, view: RtpView) -> bool:
        """A late video packet is still sent if viewers got the start of its frame."""
        return self.kind == "video" and self._resync.completes_frame(view)

    def _drop(self) -> None:
        """A packet lost for the viewers: count it; video resynchronises at a keyframe."""
        self.dropped += 1
        PACKETS_DROPPED.labels(self.kind).inc()
        if self.dropped % 1000 == 1:
            logger.warning("sfu_fanout_behind", kind=self.kind, dropped=self.dropped)
        if self.kind == "video":
            self._resync.dropped()

    async def _fan_out(self, view: RtpView) -> None:
        keyframe = self.kind == "video" and starts_keyframe(self.codec_name, view.payload)
        skipped = self._resync.resume(view, keyframe)
        if skipped is None:
            return  # waiting for a keyframe after a drop (sfu/resync.py)
        self._remember(view)
        self._apply_removals()
        if skipped:
            self._rebase(view, skipped)
        if self._waiting:
            self._start_waiting(view, keyframe)
        now = time.time()
        ts = view.timestamp
        self._sent = ((ts, now), self._sent[1] if self._sent[0][0] == ts else self._sent[0])
        blocks = tuple(
            map_extensions(view, f.extension_map, f.extension_extra) for f in self._format_list
        )
        for fanout in (self.fanout, self._relayed):
            if len(fanout):
                await self._forward_paced(fanout, view, blocks, int(now))
        self._resync.forwarded(view)

    def _rebase(self, view: RtpView, skipped: int) -> None:
        """Resume every started down-track at ``view`` with ``skipped`` sequence numbers taken
        out (their targets are replaced: offsets are fixed per target)."""
        logger.info("sfu_fanout_resynchronised", kind=self.kind, skipped=skipped)
        for downtrack, fanout in self._homes.items():
            old = downtrack.target
            target = downtrack.rebase(view, skipped, self._target_factory(fanout is self.fanout))
            if old is not None and target is not old:
                fanout.remove(old)
                fanout.add(target)

    async def _forward_paced(
        self, fanout: Fanout, view: RtpView, blocks: tuple[bytes, ...], second: int
    ) -> None:
        """One packet to every target of ``fanout``, in slices; yields once the budget is spent."""
        pacer = self._pacer
        frame_done = view.marker and self.kind == "video"
        total, start = len(fanout), 0
        while start < total:
            if pacer.due():
                # Let ingest, RTCP, signaling and other streams run (see module docstring).
                await asyncio.sleep(0)
                pacer.rested()
            stop = pacer.slice_end(start, total)
            began = pacer.now()
            forward_view(fanout, view, frame_done, blocks, second, start, stop)
            pacer.spent(stop - start, pacer.now() - began)
            start = stop

    def _remember(self, view: RtpView) -> None:
        slot = view.sequence_number % HISTORY_SIZE
        previous = self._history[slot]
        if previous is None or seq_diff(view.sequence_number, previous.sequence_number) > 0:
            self._history[slot] = view

    def _apply_removals(self) -> None:
        for fanout, target in self._removed:
            fanout.remove(target)
        self._removed.clear()

    def _start_waiting(self, view: RtpView, keyframe: bool) -> None:
        """Start the down-tracks that can start at ``view``: they join a fan-out."""
        for downtrack in list(self._waiting):
            route = downtrack.route(view, keyframe)
            if route is None:
                continue
            fanout, new_target = self._fanout_for(route)
            block_index = self._block_index(downtrack.fmt)
            fanout.add(downtrack.start(view, route, block_index, new_target))
            self._homes[downtrack] = fanout
            self._waiting.remove(downtrack)

    def _fanout_for(self, route: SendRoute) -> tuple[Fanout, TargetFactory]:
        if route.direct:
            return self.fanout, self._target_factory(True)
        return self._relayed, self._target_factory(False)

    def _target_factory(self, direct: bool) -> TargetFactory:
        """Targets for the main fan-out (native or not) or, for relayed routes, the Python one."""
        return partial(new_target, native=self.native and direct)

    def _block_index(self, fmt: OutputFormat) -> int:
        """Subscribers whose extension formats are equal share one block per packet."""
        index = self._formats.get(fmt.extension_key)
        if index is None:
            index = self._formats[fmt.extension_key] = len(self._format_list)
            self._format_list.append(fmt)
        return index

    def stop(self) -> None:
        """End fan-out and taps."""
        self.keyframes.cancel()
        self._queue.put_nowait(None)
        for tap in list(self.taps):
            tap.end()
        self.taps.clear()
        for subscriber_id in list(self.downtracks):
            self.detach(subscriber_id)
