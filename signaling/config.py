"""What the HTTP layer needs to know, built by the composition root (vilokanam.wiring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class AppConfig:
    database_url: str
    redis_url: str
    public_url: str
    dev_mode: bool = True
    redis_prefix: str = "vk:"
    ss58_format: int = 2
    platform_fee_bps: int = 1000
    session_ttl_s: int = 7 * 24 * 3600
    nonce_ttl_s: int = 300
    max_json_bytes: int = 64 * 1024
    rtc_host_addresses: tuple[str, ...] = ()
    rtc_announced_address: str | None = None
    ice_servers: tuple[str, ...] = ()
    # Seconds between stream_analytics samples of each live stream's viewer count.
    analytics_interval_s: float = 10.0
    # Billing: a paid view needs this many seconds of balance to start.
    min_view_seconds: int = 5
    chain_url: str | None = None          # the server's node; None: no deposits or payouts
    chain_public_url: str | None = None   # what browsers' wallets connect to
    escrow_seed: str | None = field(default=None, repr=False)
    payout_threshold: int = 0             # planck; 0: the chain's existential deposit
    # Run settlement, deposit and payout loops in this process (workers may run them instead).
    billing_workers: bool = True
    payout_interval_s: float = 5.0
    # Files on disk: uploads in progress and processed videos (media_root/videos/<id>/…).
    media_root: Path = Path("var/media")
    upload_max_bytes: int = 2 * 1024**3
    # Default chunk size; a client may pick one in [min, max]. All chunks but the last have it.
    upload_chunk_bytes: int = 8 * 1024**2
    upload_min_chunk_bytes: int = 256 * 1024
    upload_max_chunk_bytes: int = 64 * 1024**2
    # Every live stream is recorded; a publisher returning within the grace keeps the recording.
    recording: bool = True
    reconnect_grace_s: float = 10.0
    # Run a VOD worker in this process (`make run`); production runs `vilokanam worker vod`.
    vod_worker: bool = False
    # Seconds within which a viewer must acknowledge media (RTCP reports) to be charged for it.
    viewer_ack_window_s: float = 3.0
    # WHEP sessions one account may hold open; seconds a WHIP/WHEP peer has to connect.
    max_views_per_viewer: int = 4
    rtc_connect_timeout_s: float = 15.0
    # Which billing loops run here when billing_workers is on (BILLING_WORKERS).
    billing_loops: tuple[str, ...] = ("settlement", "deposits", "payouts")
    payout_lease_s: float = 15.0  # the escrow's payout signer lease (PAYOUT_LEASE_S)
    # /metrics on the main listener: open (dev default), behind this bearer token, or not at
    # all (served by a separate listener, see vilokanam.server).
    metrics_on_main: bool = True
    metrics_token: str | None = field(default=None, repr=False)
    # Anonymous sign-in nonces one IP address may ask for per minute.
    nonce_rate_per_minute: int = 60
    # Creator payouts: seconds between two to one creator; fee bound of the derived threshold.
    payout_min_interval_s: float = 3600.0
    payout_max_fee_bps: int = 50
    # Chat messages one user may post per window, across all their sockets and processes.
    chat_burst: int = 5
    chat_window_s: int = 5
    # Signed-in WebSockets one user may hold open at once, across processes.
    websockets_per_user: int = 20
    # WHIP/WHEP session PATCHes and DELETEs one IP address may make per minute.
    session_requests_per_minute: int = 300
    # A video counts one view per viewer (user, or IP when anonymous) in this window.
    view_count_window_s: int = 1800
    # Per creator: uploads in progress at once, and the bytes they declare together.
    upload_max_open_per_creator: int = 5
    upload_quota_bytes: int = 10 * 1024**3
    # An upload receiving nothing for this long is removed (row and files).
    upload_expiry_s: int = 24 * 3600

    @property
    def domain(self) -> str:
        """Host[:port] that sign-in messages are bound to (SIWS `domain`)."""
        return urlsplit(self.public_url).netloc
