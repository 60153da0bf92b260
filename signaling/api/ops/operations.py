"""Every operation of the HTTP API, for the OpenAPI document (signaling/api/ops/openapi.py).

Each entry names the pydantic model that validates its request body (the same class the handler
passes to `read_json`), so the document and the validation cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from signaling.api.catalog.models import CategoryCreate, CategoryUpdate
from signaling.api.comments.models import CommentCreate, CommentText
from signaling.api.me.models import ProfileUpdate, WithdrawRequest
from signaling.api.moderation.models import ReportCreate, ReportReview
from signaling.api.ops.schemas import OBJECT, Schema, page_of, ref
from signaling.api.streams.models import StreamCreate, StreamUpdate
from signaling.api.tips.models import TipRequest
from signaling.api.uploads.models import UploadCreate
from signaling.api.videos.models import VideoUpdate, ViewReport
from signaling.auth.models import DevLogin, DevTopUp, NonceRequest, VerifyRequest
from signaling.http.idempotency import HEADER as IDEMPOTENCY_KEY

Auth = Literal["session", "optional", "stream_key"] | None

QUERY: dict[str, Schema] = {
    "cursor": {"type": "string"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "status": {"type": "string"},
    "category": {"type": "string", "format": "uuid"},
    "creator": {"type": "string", "format": "uuid"},
    "sort": {"enum": ["newest", "most_viewed"]},
    "range": {"enum": ["1h", "24h", "7d", "30d"]},
    "stream_id": {"type": "string", "format": "uuid"},
    "parent_id": {"type": "string", "format": "uuid"},
    "target_type": {"enum": ["video", "comment", "user", "stream"]},
    "price": {"type": "string", "pattern": "^[0-9]{1,40}$"},
    "amount": {"type": "string", "pattern": "^[1-9][0-9]{0,37}$"},
    "to": {"type": "string", "maxLength": 64},
    "q": {"type": "string", "maxLength": 200},
}
PAGED = ("cursor", "limit")


@dataclass(frozen=True)
class Op:
    summary: str
    tag: str
    ok: tuple[int, ...] = (200,)
    schema: Schema = field(default_factory=lambda: OBJECT)
    body: type[BaseModel] | None = None
    content: str | None = None  # a non-JSON request body's media type
    produces: str = "application/json"
    auth: Auth = None
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    unavailable: bool = False  # may answer 503 when the server has no chain


def _paged(summary: str, tag: str, item: Schema = OBJECT, *query: str, auth: Auth = None) -> Op:
    return Op(summary, tag, schema=page_of(item), query=(*PAGED, *query), auth=auth)


SDP = "application/sdp"
TRICKLE = "application/trickle-ice-sdpfrag"
NO_BODY: Schema = {}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/health"): Op(
        "PostgreSQL and Redis reachability", "ops", ok=(200, 503), schema=ref("Health")
    ),
    ("GET", "/api/openapi.json"): Op("This document", "ops"),
    # auth
    ("POST", "/api/auth/nonce"): Op(
        "A sign-in message to sign with the account",
        "auth",
        ok=(201,),
        schema=ref("Nonce"),
        body=NonceRequest,
    ),
    ("POST", "/api/auth/verify"): Op(
        "Verify the signed message; a session token",
        "auth",
        schema=ref("Session"),
        body=VerifyRequest,
    ),
    ("GET", "/api/auth/session"): Op(
        "Who is signed in (user and expires_at, both null when signed out)",
        "auth",
        schema=ref("CurrentSession"),
        auth="optional",
    ),
    ("POST", "/api/auth/logout"): Op(
        "End this session (token or cookie)", "auth", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("POST", "/api/auth/logout-all"): Op(
        "End every session of the signed-in user, on every device",
        "auth",
        schema=ref("SessionsEnded"),
        auth="session",
    ),
    ("GET", "/api/dev/accounts"): Op("Dev mode only: the dev accounts", "auth"),
    ("POST", "/api/dev/topup"): Op(
        "Dev mode only: my dev account sends planck to the escrow (credited as a deposit)",
        "billing",
        body=DevTopUp,
        auth="session",
        unavailable=True,
    ),
    ("POST", "/api/dev/login"): Op(
        "Dev mode only: sign in as a dev account", "auth", schema=ref("Session"), body=DevLogin
    ),
    ("GET", "/api/me"): Op("My profile", "users", schema=ref("Me"), auth="session"),
    ("PATCH", "/api/me"): Op(
        "Change my profile", "users", schema=ref("Me"), body=ProfileUpdate, auth="session"
    ),
    # streams and live media
    ("GET", "/api/streams"): _paged(
        "Streams, newest first", "streams", ref("Stream"), "status", "category", "creator"
    ),
    ("POST", "/api/streams"): Op(
        "Create a stream (creators); its key is shown once",
        "streams",
        ok=(201,),
        schema=ref("Stream"),
        body=StreamCreate,
        auth="session",
    ),
    ("GET", "/api/streams/{stream_id}"): Op(
        "A stream with its live viewer count", "streams", schema=ref("Stream")
    ),
    ("PATCH", "/api/streams/{stream_id}"): Op(
        "Edit my stream", "streams", schema=ref("Stream"), body=StreamUpdate, auth="session"
    ),
    ("DELETE", "/api/streams/{stream_id}"): Op(
        "Delete my stream when not live", "streams", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("POST", "/api/streams/{stream_id}/key"): Op(
        "Rotate my stream's key; a broadcast using the old key ends",
        "streams",
        schema=ref("Stream"),
        auth="session",
    ),
    ("POST", "/api/streams/{stream_id}/end"): Op(
        "End my stream's live broadcast, whoever publishes it (409 when not live)",
        "streams",
        schema=ref("Stream"),
        auth="session",
    ),
    ("POST", "/whip/{stream_id}"): Op(
        "WHIP: publish (RFC 9725)",
        "webrtc",
        ok=(201,),
        schema=NO_BODY,
        content=SDP,
        produces=SDP,
        auth="stream_key",
    ),
    ("OPTIONS", "/whip/{stream_id}"): Op(
        "WHIP: CORS preflight", "webrtc", ok=(204,), schema=NO_BODY
    ),
    ("PATCH", "/whip/{stream_id}/{session}"): Op(
        "WHIP: trickle ICE",
        "webrtc",
        ok=(204,),
        schema=NO_BODY,
        content=TRICKLE,
        headers=("If-Match",),
    ),
    ("DELETE", "/whip/{stream_id}/{session}"): Op(
        "WHIP: end the broadcast", "webrtc", schema=NO_BODY
    ),
    ("OPTIONS", "/whip/{stream_id}/{session}"): Op(
        "WHIP: CORS preflight", "webrtc", ok=(204,), schema=NO_BODY
    ),
    ("POST", "/whep/{stream_id}"): Op(
        "WHEP: watch (409 + Retry-After when not live; 412 "
        "when Vilokanam-Price is not the current price)",
        "webrtc",
        ok=(201,),
        schema=NO_BODY,
        content=SDP,
        produces=SDP,
        auth="session",
        query=("price",),
        headers=("Vilokanam-Price",),
    ),
    ("OPTIONS", "/whep/{stream_id}"): Op(
        "WHEP: CORS preflight", "webrtc", ok=(204,), schema=NO_BODY
    ),
    ("PATCH", "/whep/{stream_id}/{session}"): Op(
        "WHEP: trickle ICE",
        "webrtc",
        ok=(204,),
        schema=NO_BODY,
        content=TRICKLE,
        headers=("If-Match",),
    ),
    ("DELETE", "/whep/{stream_id}/{session}"): Op("WHEP: stop watching", "webrtc", schema=NO_BODY),
    ("OPTIONS", "/whep/{stream_id}/{session}"): Op(
        "WHEP: CORS preflight", "webrtc", ok=(204,), schema=NO_BODY
    ),
    # billing
    ("GET", "/api/billing/info"): Op(
        "What a wallet needs to top up", "billing", schema=ref("BillingInfo"), unavailable=True
    ),
    ("GET", "/api/me/balance"): Op("My balance", "billing", schema=ref("Balance"), auth="session"),
    ("GET", "/api/me/withdraw/quote"): Op(
        "The fee of a withdrawal, paid from my balance",
        "billing",
        schema=ref("WithdrawalQuote"),
        query=("amount", "to"),
        auth="session",
        unavailable=True,
    ),
    ("POST", "/api/me/withdraw"): Op(
        "Withdraw unused balance to an account",
        "billing",
        ok=(202,),
        body=WithdrawRequest,
        auth="session",
        headers=(IDEMPOTENCY_KEY,),
        unavailable=True,
    ),
    ("GET", "/api/me/deposits"): _paged("My deposits", "billing", auth="session"),
    ("GET", "/api/me/spending"): _paged("My spending per stream", "billing", auth="session"),
    ("GET", "/api/me/withdrawals"): _paged("My withdrawals", "billing", auth="session"),
    ("GET", "/api/me/tips"): _paged("The tips I sent", "billing", auth="session"),
    # creator dashboard
    ("GET", "/api/creator/summary"): Op("Totals and the earnings split", "creator", auth="session"),
    ("GET", "/api/creator/live"): Op("Earnings and viewers right now", "creator", auth="session"),
    ("GET", "/api/creator/streams"): _paged("My streams with earnings", "creator", auth="session"),
    ("GET", "/api/creator/payouts"): _paged("My payouts", "creator", auth="session"),
    ("GET", "/api/creator/videos"): _paged(
        "My videos, any status, failed ones with the reason", "creator", auth="session"
    ),
    ("GET", "/api/creator/earnings"): Op(
        "Earnings over time", "creator", query=("range",), auth="session"
    ),
    ("GET", "/api/creator/viewers"): Op(
        "Viewers over time", "creator", query=("range", "stream_id"), auth="session"
    ),
    ("GET", "/api/creator/payments.csv"): Op(
        "My payments as CSV",
        "creator",
        schema=NO_BODY,
        produces="text/csv",
        query=("range",),
        auth="session",
    ),
    # catalog and social
    ("GET", "/api/categories"): _paged("Categories", "catalog"),
    ("POST", "/api/categories"): Op(
        "Create a category (admins)", "catalog", ok=(201,), body=CategoryCreate, auth="session"
    ),
    ("GET", "/api/categories/{category_id}"): Op("A category", "catalog"),
    ("PATCH", "/api/categories/{category_id}"): Op(
        "Edit a category (admins)", "catalog", body=CategoryUpdate, auth="session"
    ),
    ("DELETE", "/api/categories/{category_id}"): Op(
        "Delete a category (admins)", "catalog", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/api/videos/{video_id}/categories"): _paged(
        "A video's categories", "catalog", auth="optional"
    ),
    ("PUT", "/api/videos/{video_id}/categories/{category_id}"): Op(
        "Put my video in a category", "catalog", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("DELETE", "/api/videos/{video_id}/categories/{category_id}"): Op(
        "Take my video out of a category", "catalog", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/api/videos/{video_id}/analytics"): Op(
        "My video's analytics", "catalog", auth="session"
    ),
    ("POST", "/api/users/{user_id}/follow"): Op(
        "Follow a user", "social", ok=(201, 204), auth="session"
    ),
    ("DELETE", "/api/users/{user_id}/follow"): Op(
        "Unfollow a user", "social", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/api/users/{ref}"): Op(
        "A profile by user id, username or SS58 address, with follow counts",
        "users",
        auth="optional",
    ),
    ("PUT", "/api/me/avatar"): Op(
        "Set my profile picture (the image itself; stored as a 256 px square JPEG)",
        "users",
        schema=ref("Me"),
        content="image/*",
        auth="session",
    ),
    ("DELETE", "/api/me/avatar"): Op(
        "Remove my profile picture", "users", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/media/avatars/{user_id}/avatar.jpg"): Op(
        "A user's profile picture", "users", schema=NO_BODY, produces="image/jpeg"
    ),
    ("GET", "/api/users/{user_id}/followers"): _paged("A user's followers", "social"),
    ("GET", "/api/users/{user_id}/following"): _paged("Whom a user follows", "social"),
    ("GET", "/api/me/following/live"): _paged(
        "Live now from people I follow", "social", ref("Stream"), auth="session"
    ),
    ("PUT", "/api/videos/{video_id}/like"): Op("Like a video", "social", auth="session"),
    ("DELETE", "/api/videos/{video_id}/like"): Op("Unlike a video", "social", auth="session"),
    ("PUT", "/api/comments/{comment_id}/like"): Op("Like a comment", "social", auth="session"),
    ("DELETE", "/api/comments/{comment_id}/like"): Op("Unlike a comment", "social", auth="session"),
    ("GET", "/api/videos/{video_id}/comments"): _paged(
        "A video's comments", "comments", OBJECT, "parent_id", auth="optional"
    ),
    ("POST", "/api/videos/{video_id}/comments"): Op(
        "Comment on a video", "comments", ok=(201,), body=CommentCreate, auth="session"
    ),
    ("GET", "/api/streams/{stream_id}/comments"): _paged(
        "A stream's comments", "comments", OBJECT, "parent_id"
    ),
    ("POST", "/api/streams/{stream_id}/comments"): Op(
        "Comment on a stream", "comments", ok=(201,), body=CommentCreate, auth="session"
    ),
    # tips (once per Idempotency-Key: a retry answers the first result, 422 for another body)
    ("POST", "/api/streams/{stream_id}/tips"): Op(
        "Tip a stream's creator from my balance (shown in its live chat)",
        "billing",
        ok=(201,),
        body=TipRequest,
        auth="session",
        headers=(IDEMPOTENCY_KEY,),
    ),
    ("POST", "/api/videos/{video_id}/tips"): Op(
        "Tip a video's creator from my balance",
        "billing",
        ok=(201,),
        body=TipRequest,
        auth="session",
        headers=(IDEMPOTENCY_KEY,),
    ),
    ("GET", "/api/comments/{comment_id}"): Op("A comment", "comments"),
    ("PATCH", "/api/comments/{comment_id}"): Op(
        "Edit my comment", "comments", body=CommentText, auth="session"
    ),
    ("DELETE", "/api/comments/{comment_id}"): Op(
        "Delete a comment (author or moderator)",
        "comments",
        ok=(204,),
        schema=NO_BODY,
        auth="session",
    ),
    ("POST", "/api/reports"): Op(
        "Report a video, comment, user or stream",
        "moderation",
        ok=(201,),
        body=ReportCreate,
        auth="session",
    ),
    ("GET", "/api/moderation/reports"): _paged(
        "Reports to review (moderators)",
        "moderation",
        OBJECT,
        "status",
        "target_type",
        auth="session",
    ),
    ("PATCH", "/api/moderation/reports/{report_id}"): Op(
        "Review a report (moderators)", "moderation", body=ReportReview, auth="session"
    ),
    # videos and uploads
    ("GET", "/api/videos"): _paged("Ready videos", "videos", OBJECT, "creator", "category", "sort"),
    ("GET", "/api/videos/{video_id}"): Op(
        "A video with renditions and progress", "videos", auth="optional"
    ),
    ("PATCH", "/api/videos/{video_id}"): Op(
        "Edit my video", "videos", body=VideoUpdate, auth="session"
    ),
    ("DELETE", "/api/videos/{video_id}"): Op(
        "Delete my video (hidden with its files)",
        "videos",
        ok=(204,),
        schema=NO_BODY,
        auth="session",
    ),
    ("POST", "/api/videos/{video_id}/publish"): Op(
        "Publish my private video (a paid stream's recording)", "videos", auth="session"
    ),
    ("POST", "/api/videos/{video_id}/retry"): Op(
        "Process my failed video again (queued; 409 unless its processing failed)",
        "videos",
        ok=(202,),
        auth="session",
    ),
    ("POST", "/api/videos/{video_id}/views"): Op(
        "Record a playback", "videos", ok=(200, 201), body=ViewReport, auth="optional"
    ),
    ("GET", "/media/live/{stream_id}/thumbnail.jpg"): Op(
        "A live stream's latest thumbnail (refreshed about every 30 s)",
        "streams",
        schema=NO_BODY,
        produces="image/jpeg",
    ),
    ("GET", "/api/search"): Op(
        "Streams (live first) and public videos with every word of q in title or description",
        "catalog",
        query=("q", "limit"),
    ),
    ("GET", "/media/videos/{video_id}/{path}"): Op(
        "A ready video's file: MP4 rendition, HLS playlist or segment, thumbnail (Range)",
        "videos",
        ok=(200, 206),
        schema=NO_BODY,
        produces="application/octet-stream",
    ),
    ("POST", "/api/uploads"): Op(
        "Start a resumable upload (creators)",
        "uploads",
        ok=(201,),
        body=UploadCreate,
        auth="session",
    ),
    ("GET", "/api/uploads/{upload_id}"): Op(
        "An upload's received chunks", "uploads", auth="session"
    ),
    ("PUT", "/api/uploads/{upload_id}/chunks/{index}"): Op(
        "Store one chunk (X-Chunk-SHA256)",
        "uploads",
        ok=(200, 201),
        content="application/octet-stream",
        headers=("X-Chunk-SHA256",),
        auth="session",
    ),
    ("POST", "/api/uploads/{upload_id}/complete"): Op(
        "Verify and queue for processing", "uploads", ok=(202,), auth="session"
    ),
}
