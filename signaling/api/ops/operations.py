"""Every operation of the HTTP API, for the OpenAPI document (signaling/api/ops/openapi.py).

Each entry names the pydantic model that validates its request body (the same class the handler
passes to `read_json`), so the document and the validation cannot drift.
"""

from __future__ import annotations

from signaling.api.me.models import ProfileUpdate
from signaling.api.ops.content_operations import CONTENT_OPERATIONS
from signaling.api.ops.money_operations import MONEY_OPERATIONS
from signaling.api.ops.op import NO_BODY, QUERY, SDP, TRICKLE, Op, paged
from signaling.api.ops.schemas import ref
from signaling.api.streams.models import StreamCreate, StreamUpdate
from signaling.auth.models import DevLogin, DevTopUp, NonceRequest, VerifyRequest

__all__ = ["OPERATIONS", "QUERY", "Op"]

_ACCOUNTS_AND_MEDIA: dict[tuple[str, str], Op] = {
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
    ("GET", "/api/streams"): paged(
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
}

OPERATIONS: dict[tuple[str, str], Op] = {
    **_ACCOUNTS_AND_MEDIA,
    **MONEY_OPERATIONS,
    **CONTENT_OPERATIONS,
}
