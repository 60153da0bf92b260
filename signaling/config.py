"""What the HTTP layer needs to know, built by the composition root (vilokanam).

The settings come in sections, one per area of the product. vilokanam.settings composes them
into the one Settings read from the environment: every field of a section is read from the
variable named like it, upper-cased (`upload_quota_bytes` ← `UPLOAD_QUOTA_BYTES`), so field names
are unique across sections. AppConfig holds the sections as they were read plus the values
resolved at start (service URLs, escrow seed, dev mode); nothing is copied field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode

BILLING_LOOPS = ("settlement", "deposits", "payouts")
_VAR = Path(__file__).resolve().parent.parent / "var"

CsvList = Annotated[tuple[str, ...], NoDecode]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Section(BaseModel):
    """A group of settings; each field is read from the variable named like it, upper-cased."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(Section):
    """Where the process listens, how it is reached, and what it shares with its peers."""

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    # The URL people use (default: http://HTTP_HOST:HTTP_PORT); sign-in messages are bound to it.
    public_url: str | None = None
    # Prefix of every Redis key (processes sharing a prefix are one cluster).
    redis_prefix: str = "vk:"
    # host:port of a listener serving only /metrics; the main listener then serves none.
    metrics_address: str | None = None
    # Bearer token /metrics on the main listener asks for (production without METRICS_ADDRESS).
    metrics_token: str | None = Field(default=None, repr=False)

    @field_validator("public_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("metrics_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:9100")
        return value

    @property
    def metrics_listener(self) -> tuple[str, int] | None:
        """(host, port) of the separate /metrics listener, if one is configured."""
        if self.metrics_address is None:
            return None
        host, _, port = self.metrics_address.rpartition(":")
        return host.strip("[]"), int(port)


class AuthSettings(Section):
    """Sign-in (SIWS nonces) and sessions."""

    # Address format shown to people (the dev chain's).
    ss58_format: int = Field(default=2, ge=0, le=16383)
    session_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    nonce_ttl_s: int = Field(default=300, ge=10, le=3600)


class Limits(Section):
    """What one client may ask for: request sizes, rates and open things."""

    # Largest JSON request body accepted (bigger: 413).
    max_json_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024**2)
    # Sign-in nonces one IP address may ask for per minute (anonymous, so limited per address).
    nonce_rate_per_minute: int = Field(default=60, ge=1, le=100_000)
    # Chat messages one user may post per CHAT_WINDOW_S seconds (all their sockets together).
    chat_burst: int = Field(default=5, ge=1, le=10_000)
    chat_window_s: int = Field(default=5, ge=1, le=3600)
    # Signed-in WebSockets (stream pages and dashboards) one user may hold open at once.
    websockets_per_user: int = Field(default=20, ge=1, le=10_000)
    # WHIP/WHEP session PATCHes (trickle) and DELETEs one IP address may make per minute.
    session_requests_per_minute: int = Field(default=300, ge=1, le=1_000_000)
    # Seconds in which repeat playbacks of a video by one viewer (user, else IP) count once.
    view_count_window_s: int = Field(default=1800, ge=1, le=30 * 24 * 3600)
    # WHEP sessions one account may hold open (connected or not).
    max_views_per_viewer: int = Field(default=4, ge=1, le=100)


class RtcSettings(Section):
    """WebRTC (the sfu's ICE and peers)."""

    # Addresses to gather ICE host candidates on (default: every interface).
    rtc_host_addresses: CsvList = ()
    # Public address behind 1:1 NAT, announced instead of the host address.
    rtc_announced_address: str | None = None
    # Every sfu peer connection on one UDP port per host address (single-port ICE, one
    # firewall rule); false: one new UDP socket (ephemeral port) per peer connection.
    rtc_udp_mux: bool = True
    # The shared UDP port of RTC_UDP_MUX (0: any free port, which tests use).
    rtc_udp_port: int = Field(default=7882, ge=0, le=65535)
    # STUN/TURN URLs (also handed to browsers).
    ice_servers: CsvList = ()
    # Seconds within which a viewer must acknowledge a second of media (RTCP receiver reports)
    # for it to be charged; a viewer silent for longer is cut.
    viewer_ack_window_s: float = Field(default=3.0, ge=1.0, le=30.0)
    # Seconds a WHIP/WHEP peer has to bring ICE and DTLS up before its session is ended.
    rtc_connect_timeout_s: float = Field(default=15.0, ge=1.0, le=300.0)
    # The sfu's per-packet fan-out: "native" (compiled; the Python one when not built) or "python".
    sfu_fanout: Literal["native", "python"] = "native"
    # Seconds a packet may wait for its fan-out under overload before it is dropped (video then
    # resumes at a keyframe the sfu asks for) instead of reaching viewers late.
    sfu_max_packet_age_s: float = Field(default=0.3, ge=0.05, le=5.0)

    _csv = field_validator("rtc_host_addresses", "ice_servers", mode="before")(_split_csv)


class MediaSettings(Section):
    """Files on disk, recording of live streams, VOD processing, live analytics."""

    # Uploads in progress, recordings and processed videos (media_root/videos/<id>/…).
    media_root: Path = _VAR / "media"
    # Record every live stream in the server process.
    recording: bool = True
    # Seconds a publisher may be gone and come back to the same recording.
    reconnect_grace_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    # Seconds between live thumbnails (one keyframe decoded per stream each time).
    thumbnail_interval_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    # Run one VOD worker in the server process (default: in dev only).
    vod_worker: bool | None = None
    # A VOD worker's lease on a job; a dead worker's job is taken over after this long.
    vod_lease_s: float = Field(default=30.0, ge=1.0, le=3600.0)
    # Seconds between stream_analytics samples of each live stream's viewer count.
    analytics_interval_s: float = Field(default=10.0, ge=1.0, le=3600.0)


class UploadSettings(Section):
    """Chunked video uploads."""

    upload_max_bytes: int = Field(default=2 * 1024**3, ge=1)
    # Default chunk size; a client may pick one in [min, max]. All chunks but the last have it.
    upload_chunk_bytes: int = Field(default=8 * 1024**2, ge=1)
    upload_min_chunk_bytes: int = Field(default=256 * 1024, ge=1)
    upload_max_chunk_bytes: int = Field(default=64 * 1024**2, ge=1)
    # Per creator: uploads in progress at once, and the bytes they declare together.
    upload_max_open_per_creator: int = Field(default=5, ge=1, le=10_000)
    upload_quota_bytes: int = Field(default=10 * 1024**3, ge=1)
    # Seconds without a chunk after which an unfinished upload is removed (row and files).
    upload_expiry_s: int = Field(default=24 * 3600, ge=60)

    @model_validator(mode="after")
    def _chunk_sizes_in_order(self) -> UploadSettings:
        chunk, low, high = (
            self.upload_chunk_bytes,
            self.upload_min_chunk_bytes,
            self.upload_max_chunk_bytes,
        )
        if not low <= chunk <= high:
            raise ValueError(
                "UPLOAD_MIN_CHUNK_BYTES <= UPLOAD_CHUNK_BYTES <= UPLOAD_MAX_CHUNK_BYTES must hold"
            )
        return self


class BillingSettings(Section):
    """Metering, payouts and which billing loops this process runs."""

    # Platform fee in basis points of every viewer-second.
    platform_fee_bps: int = Field(default=1000, ge=0, le=10_000)
    # Seconds of balance a paid view needs to start.
    min_view_seconds: int = Field(default=5, ge=1, le=3600)
    # The largest tip one request may send, planck (default 1000 units of a 12-decimal chain).
    max_tip_planck: int = Field(default=10**15, ge=1, le=2**63 - 1)
    # Billing loops `vilokanam run` runs in-process: "all", "none", or a comma list of
    # settlement, deposits, payouts (run the others as `vilokanam worker ROLE`).
    billing_workers: CsvList = BILLING_LOOPS
    # Smallest creator payout in planck (0: derived from PAYOUT_MAX_FEE_BPS).
    payout_threshold: int = Field(default=0, ge=0)
    # Creator payouts (billing/payout_policy.py): at most one per creator per interval, and,
    # unless PAYOUT_THRESHOLD is set, each at least the amount whose fee is this many bps of it.
    payout_min_interval_s: float = Field(default=3600.0, ge=0.0, le=30 * 24 * 3600)
    payout_max_fee_bps: int = Field(default=50, ge=1, le=10_000)
    # Seconds between two payout rounds of the server's in-process payout loop.
    payout_interval_s: float = Field(default=5.0, ge=0.1, le=3600.0)
    # Seconds a payout signer's lease on the escrow lasts without renewal (a dead signer's
    # successor starts signing after at most this long).
    payout_lease_s: float = Field(default=15.0, ge=1.0, le=600.0)

    @field_validator("billing_workers", mode="before")
    @classmethod
    def _billing_loops(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        words = {part.strip().lower() for part in value.split(",") if part.strip()}
        if words <= {"all"} and words:
            return BILLING_LOOPS
        if words <= {"none"}:
            return ()
        unknown = words - set(BILLING_LOOPS)
        if unknown:
            raise ValueError(
                f"unknown billing loop(s) {', '.join(sorted(unknown))}; use all, "
                f"none or a comma list of {', '.join(BILLING_LOOPS)}"
            )
        return tuple(loop for loop in BILLING_LOOPS if loop in words)


class ClusterSettings(Section):
    """This node among others: how many `vilokanam run` starts, how other nodes reach it."""

    # Nodes `vilokanam run` starts on this machine (default: one per CPU core).
    workers: int | None = Field(default=None, ge=1, le=256)
    # Port of this node's own listener (the internal URL); `vilokanam run` gives node k
    # NODE_PORT + k. 0: any free port (tests).
    node_port: int = Field(default=7890, ge=0, le=65535)
    # URL other nodes, and clients redirected here, reach exactly this node on (default:
    # http://HTTP_HOST:NODE_PORT).
    node_internal_url: str | None = None
    # The node credential: internal requests between nodes carry it as a Bearer token.
    node_secret: str | None = Field(default=None, repr=False)
    # Connected viewers this node serves before it redirects new ones to a node with room
    # (0: no limit). About what one core's fan-out holds (docs/benchmarks.md).
    node_max_viewers: int = Field(default=500, ge=0, le=1_000_000)
    # Seconds a relay from an origin stays open after its last viewer on this node left.
    relay_idle_s: float = Field(default=10.0, ge=0.0, le=3600.0)

    @field_validator("node_internal_url")
    @classmethod
    def _internal_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else None


@dataclass(frozen=True)
class AppConfig:
    """The settings sections plus what is resolved at start."""

    database_url: str
    redis_url: str
    public_url: str  # resolved: PUBLIC_URL, else http://HTTP_HOST:HTTP_PORT
    dev_mode: bool = True
    chain_url: str | None = None  # the server's node; None: no deposits or payouts
    chain_public_url: str | None = None  # what browsers' wallets connect to
    escrow_seed: str | None = field(default=None, repr=False)
    # /metrics on the main listener: open (dev default), behind server.metrics_token, or not at
    # all (served by a separate listener, see vilokanam.server).
    metrics_on_main: bool = True
    server: ServerSettings = field(default_factory=ServerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: Limits = field(default_factory=Limits)
    rtc: RtcSettings = field(default_factory=RtcSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    uploads: UploadSettings = field(default_factory=UploadSettings)
    billing: BillingSettings = field(default_factory=BillingSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)

    @property
    def domain(self) -> str:
        """Host[:port] that sign-in messages are bound to (SIWS `domain`)."""
        return urlsplit(self.public_url).netloc

    @property
    def runs_vod_worker(self) -> bool:
        """VOD_WORKER, defaulting to on in dev (`make run`); production runs `worker vod`."""
        return self.dev_mode if self.media.vod_worker is None else self.media.vod_worker
