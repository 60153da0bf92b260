"""What WHIP (RFC 9725) and WHEP share: SDP bodies, CORS, ICE server links, trickle PATCH, and
the one mapping of sfu errors to HTTP statuses."""

from __future__ import annotations

from typing import TypeVar

import asyncpg
from aiohttp import web

from sfu import AlreadyPublishing, BadCandidate, NotLive, SfuError, UnknownPeer, UnsupportedOffer
from signaling.api.streams import queries as streams_db
from signaling.cluster.forwarding import node_request
from signaling.http import rate_limit
from signaling.http.errors import ApiError, Handler
from signaling.http.lookup import row_or_404
from signaling.http.validation import parse_uuid
from signaling.keys import CONFIG, LIVE
from signaling.webrtc.sessions import Kind, PeerSession, ice_ufrag

MAX_SDP_BYTES = 64 * 1024
RETRY_AFTER_S = 5  # a viewer's player retries WHEP this long after "not live"
SDP = "application/sdp"
TRICKLE = "application/trickle-ice-sdpfrag"
R = TypeVar("R", bound=web.StreamResponse)

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, Vilokanam-Price, "
    "X-CSRF-Token",
    "Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Patch, Retry-After, "
    "Vilokanam-Price",
}


def not_live() -> ApiError:
    return ApiError(
        409,
        "the stream is not live yet",
        "not_live",
        headers={**CORS, "Retry-After": str(RETRY_AFTER_S)},
    )


def sfu_http_error(exc: SfuError) -> ApiError:
    """The one mapping of sfu errors to HTTP: every one is the request's fault (4xx)."""
    if isinstance(exc, NotLive):
        return not_live()
    if isinstance(exc, AlreadyPublishing):
        return ApiError(409, "the stream already has a publisher", headers=CORS)
    if isinstance(exc, UnsupportedOffer):
        return ApiError(422, f"unusable offer: {exc}", headers=CORS)
    if isinstance(exc, BadCandidate):
        return ApiError(400, f"bad ICE candidate: {exc}", headers=CORS)
    if isinstance(exc, UnknownPeer):
        return ApiError(404, "the session has ended", headers=CORS)
    return ApiError(400, f"refused by the media server: {exc}", headers=CORS)


@web.middleware
async def sfu_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Any sfu error a handler lets through becomes its 4xx (see sfu_http_error)."""
    try:
        return await handler(request)
    except SfuError as exc:
        raise sfu_http_error(exc) from None


def ice_server_links(request: web.Request) -> list[str]:
    """`Link: <url>; rel="ice-server"` values for the configured STUN/TURN servers."""
    links = []
    for url in request.app[CONFIG].rtc.ice_servers:
        scheme, _, rest = url.partition(":")
        credentials, at, address = rest.rpartition("@")
        target = f"{scheme}:{address if at else rest}"
        if at:
            username, _, password = credentials.partition(":")
            links.append(
                f'<{target}>; rel="ice-server"; username="{username}"; '
                f'credential="{password}"; credential-type="password"'
            )
        else:
            links.append(f'<{target}>; rel="ice-server"')
    return links


def with_cors(response: R) -> R:
    response.headers.update(CORS)
    return response


async def stream_or_404(request: web.Request) -> asyncpg.Record:
    """The path's {stream_id} row; 404 (with CORS) when there is no such stream."""
    return await row_or_404(
        request, "stream_id", "stream", streams_db.by_id, message="no such stream", headers=CORS
    )


async def read_offer(request: web.Request) -> str:
    """The SDP offer of a POST; 415 for another media type, 400 when it is not SDP text."""
    if request.content_type != SDP:
        raise ApiError(415, f"expected Content-Type: {SDP}", headers=CORS)
    raw = await request.content.read(MAX_SDP_BYTES + 1)
    if len(raw) > MAX_SDP_BYTES:
        raise ApiError(413, f"SDP offer larger than {MAX_SDP_BYTES} bytes", headers=CORS)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ApiError(400, "SDP offer is not UTF-8 text", headers=CORS) from None
    if not text.lstrip().startswith("v=0"):
        raise ApiError(400, "body is not an SDP offer (must start with v=0)", headers=CORS)
    return text


def created(request: web.Request, session: PeerSession, answer: str) -> web.Response:
    response = web.Response(status=201, text=answer, content_type=SDP)
    response.headers["Location"] = session.location
    response.headers["ETag"] = session.etag
    response.headers["Accept-Patch"] = TRICKLE
    for link in ice_server_links(request):
        response.headers.add("Link", link)
    return with_cors(response)


def options(request: web.Request, methods: str) -> web.Response:
    response = web.Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Accept-Post"] = SDP
    for link in ice_server_links(request):
        response.headers.add("Link", link)
    return with_cors(response)


async def enforce_session_limit(request: web.Request) -> None:
    """Count one session request (PATCH/DELETE) in the client's budget; 429 over it."""
    await rate_limit.enforce(
        request,
        "webrtc-session",
        rate_limit.client_ip(request),
        request.app[CONFIG].limits.session_requests_per_minute,
        60,
        headers=CORS,
    )


async def find_session(request: web.Request, kind: Kind) -> PeerSession:
    """The session a PATCH or DELETE names, counted in the client's rate limit first (so
    guessing session URLs is limited too; a request another node forwarded was counted there);
    429 over it, 404 when there is no such session."""
    if not node_request(request, request.app[CONFIG].cluster.node_secret):
        await enforce_session_limit(request)
    stream_id = parse_uuid(request.match_info["stream_id"], "stream")
    session = request.app[LIVE].session(kind, stream_id, request.match_info["session"])
    if session is None:
        raise ApiError(404, f"no such {kind.upper()} session", headers=CORS)
    return session


async def patch(request: web.Request, kind: Kind) -> web.Response:
    """Trickle ICE candidates into a session (RFC 9725 §4.3); ICE restarts are refused (422)."""
    session = await find_session(request, kind)
    if request.content_type != TRICKLE:
        raise ApiError(415, f"expected Content-Type: {TRICKLE}", headers=CORS)
    match = request.headers.get("If-Match")
    if match is None:
        raise ApiError(428, "If-Match with the session's ETag is required", headers=CORS)
    if match not in ("*", session.etag):
        raise ApiError(412, "If-Match does not match the session's ETag", headers=CORS)
    fragment = (await request.content.read(MAX_SDP_BYTES + 1)).decode(errors="replace")
    if len(fragment) > MAX_SDP_BYTES:
        raise ApiError(413, "SDP fragment too large", headers=CORS)
    ufrag = ice_ufrag(fragment)
    if match == "*" or (ufrag is not None and ufrag != session.ice_ufrag):
        raise ApiError(422, "ICE restart is not supported; start a new session", headers=CORS)
    await request.app[LIVE].sfu.add_ice_candidates(session.peer_id, fragment)
    return with_cors(web.Response(status=204))
