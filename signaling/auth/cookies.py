"""The web pages' session cookie and its CSRF token (API clients keep using Bearer tokens).

Sign-in returns the session token and also sets two cookies, Path=/, Secure when the server is
reached over https:
- `vk_session`: the token itself. HttpOnly (page scripts never see it), SameSite=Lax (not sent
  with another site's subrequests or form posts).
- `vk_csrf`: SHA-256 of a label and the token; readable by the pages, which echo it in the
  `X-CSRF-Token` header. It is bound to the session (a cookie planted by a sibling host does not
  match), reveals nothing of the token, and is re-derived on the server, so nothing more is kept.

A request is authenticated by `Authorization: Bearer` if it has one, else by the cookie. A
cookie-authenticated POST/PUT/PATCH/DELETE must carry the matching `X-CSRF-Token`, else 403;
Bearer requests need none (no browser adds that header by itself). A WebSocket cannot carry
headers: one that signs in with the cookie must come from the server's own Origin.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from aiohttp import web

from signaling.auth.tokens import bearer
from signaling.http.errors import ApiError
from signaling.keys import CONFIG

SESSION_COOKIE = "vk_session"
CSRF_COOKIE = "vk_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Pages ask for this on sign-in: the token then stays out of the JSON body, in the cookie only.
COOKIE_ONLY_HEADER = "Vilokanam-Session"


def csrf_token(token: str) -> str:
    return hashlib.sha256(b"vilokanam-csrf:" + token.encode()).hexdigest()


def _secure(request: web.Request) -> bool:
    return request.secure or request.app[CONFIG].public_url.startswith("https://")


def set_session_cookies(
    response: web.StreamResponse, request: web.Request, token: str, max_age: int | None = None
) -> None:
    """Set both cookies for `token`, living as long as the session does (`max_age` seconds)."""
    common = {
        "path": "/",
        "max_age": request.app[CONFIG].auth.session_ttl_s if max_age is None else max_age,
        "secure": _secure(request),
        "samesite": "Lax",
    }
    response.set_cookie(SESSION_COOKIE, token, httponly=True, **common)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, csrf_token(token), **common)  # type: ignore[arg-type]


def clear_session_cookies(response: web.StreamResponse, request: web.Request) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.del_cookie(name, path="/", secure=_secure(request), samesite="Lax")


def session_response(request: web.Request, session: dict[str, object]) -> web.Response:
    """The JSON answer to a sign-in, setting the cookies; without the token when the page asked
    for the cookie alone (a script that cannot read the token cannot leak it)."""
    token = str(session["token"])
    if request.headers.get(COOKIE_ONLY_HEADER, "").lower() == "cookie":
        session = {key: value for key, value in session.items() if key != "token"}
    response = web.json_response(session)
    set_session_cookies(response, request, token)
    return response


def request_token(request: web.Request) -> str | None:
    """The session token of this request: its Bearer token, else its session cookie (after the
    CSRF check when the method changes something); None when it has neither."""
    token = bearer(request.headers.get("Authorization"))
    if token is not None:
        return token
    token = from_cookie(request)
    if token is not None and request.method not in SAFE_METHODS:
        _check_csrf(request, token)
    return token


def from_cookie(request: web.Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def _check_csrf(request: web.Request, token: str) -> None:
    offered = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(offered.encode(), csrf_token(token).encode()):
        raise ApiError(
            403,
            f"a request signed in by cookie that changes something needs the {CSRF_HEADER} "
            f"header, equal to the {CSRF_COOKIE} cookie (API clients: use Authorization: Bearer)",
            "csrf_failed",
        )


def same_origin(request: web.Request) -> bool:
    """Whether the request's Origin is this server (as reached, or as PUBLIC_URL names it)."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    netloc = urlsplit(origin).netloc
    return netloc == request.host or origin.rstrip("/") == _origin(request.app[CONFIG].public_url)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def websocket_token(request: web.Request, offered: object) -> str | None:
    """The token a WebSocket signs in with: the one in its auth message, else (the message names
    none) its session cookie, but only when the socket was opened by this server's own pages."""
    if isinstance(offered, str):
        return offered
    if offered is None and same_origin(request):
        return from_cookie(request)
    return None
