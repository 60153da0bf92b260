"""A publisher: its peer connection and its tracks (each fans out: sfu/published_track.py)."""

from __future__ import annotations

from aiortc import RTCPeerConnection

from sfu.published_track import PublishedTrack
from sfu.rtp_rewrite import parse_rtp, unwrap_rtx
from sfu.tap import StreamTap


class Publisher:
    """The publisher's peer connection and its tracks, addressed by payload type."""

    def __init__(self, publisher_id: str, stream_id: str, pc: RTCPeerConnection) -> None:
        self.publisher_id = publisher_id
        self.stream_id = stream_id
        self.pc = pc
        self.tracks: dict[str, PublishedTrack] = {}  # by kind
        self._by_payload_type: dict[int, PublishedTrack] = {}
        self._rtx: dict[int, PublishedTrack] = {}
        self.malformed = 0
        self.connected = False  # ICE and DTLS came up once
        self.relay = False  # fed by another node's sfu (sfu/relay.py), not by a publisher

    def add_track(self, track: PublishedTrack) -> None:
        """Route the track's payload types (and RTX) to it."""
        self.tracks[track.kind] = track
        self._by_payload_type[track.negotiated.payload_type] = track
        if track.negotiated.rtx_payload_type is not None:
            self._rtx[track.negotiated.rtx_payload_type] = track

    def on_rtp(self, data: bytes) -> None:
        """Decrypted RTP from the publisher (aiortc_hooks.intercept_rtp callback)."""
        try:
            view = parse_rtp(data)
            track = self._by_payload_type.get(view.payload_type)
            if track is None:
                track = self._rtx.get(view.payload_type)
                if track is None or track.ssrc is None:
                    return
                view = unwrap_rtx(view, track.negotiated.payload_type, track.ssrc)
        except ValueError:
            self.malformed += 1
            return
        track.push(view)

    def tap(self) -> StreamTap:
        """A new tap on every track of this publisher."""
        video = self.tracks.get("video")
        tap = StreamTap(
            {kind: (t.codec_name, t.clock_rate) for kind, t in self.tracks.items()},
            request_keyframe=video.request_keyframe if video else lambda: None,
            detach=self.detach_tap,
        )
        for track in self.tracks.values():
            track.taps.append(tap)
        return tap

    def detach_tap(self, tap: StreamTap) -> None:
        """Stop feeding ``tap``."""
        for track in self.tracks.values():
            if tap in track.taps:
                track.taps.remove(tap)

    def stats(self) -> dict[str, int]:
        """Forwarding statistics (packets received, keyframe requests sent, ...)."""
        video = self.tracks["video"]
        return {
            "video_packets_received": video.received,
            "video_packets_dropped": video.dropped,
            "keyframe_requests_sent": video.keyframes.sent,
            "malformed_packets": self.malformed,
        }

    def stop(self) -> None:
        """Stop every track's fan-out."""
        for track in self.tracks.values():
            track.stop()
