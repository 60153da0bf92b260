"""Requests that belong to another node, sent there over its internal URL and answered back.

A forwarded request carries the node credential in `X-Vilokanam-Node`; a node that receives one
never forwards it again (loop guard) and trusts that the forwarding node already counted it in
the client's rate limit. The credential is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac

import aiohttp
import structlog
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import Counter

from signaling.http.errors import ApiError

logger = structlog.get_logger(__name__)

NODE_HEADER = "X-Vilokanam-Node"
FORWARD_TIMEOUT_S = 10.0

FORWARDED = Counter(
    "vilokanam_cluster_forwarded_total",
    "Requests forwarded to the node holding their session, by outcome",
    ["outcome"],
)

# Request headers worth carrying to the holding node; the rest describe this hop only.
_REQUEST_HEADERS = ("Content-Type", "If-Match", "Authorization", "Vilokanam-Price")
# Response headers that describe the hop, not the answer (aiohttp sets its own).
_HOP_HEADERS = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Content-Length",
        "Transfer-Encoding",
        "Keep-Alive",
        "Date",
        "Server",
        "Content-Encoding",
    )
)


def node_request(request: web.Request, secret: str | None) -> bool:
    """Whether the request was forwarded by a node of this cluster.

    403 when it claims to be (the header is there) with a wrong credential: such a request is
    neither forwarded again nor served as a client's.
    """
    claimed = request.headers.get(NODE_HEADER)
    if claimed is None:
        return False
    if not secret or not hmac.compare_digest(claimed.encode(), secret.encode()):
        raise ApiError(403, "wrong node credential", headers={"Access-Control-Allow-Origin": "*"})
    return True


async def forward(
    client: aiohttp.ClientSession, request: web.Request, node_url: str, secret: str
) -> web.Response:
    """Send `request` (method, path and query, body, the headers that matter) to the node at
    `node_url` and answer with that node's status, headers and body; 502 when it is unreachable."""
    headers = {name: request.headers[name] for name in _REQUEST_HEADERS if name in request.headers}
    headers[NODE_HEADER] = secret
    body = await request.read()
    url = node_url.rstrip("/") + request.rel_url.path_qs
    try:
        async with client.request(
            request.method,
            url,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S),
        ) as answer:
            payload = await answer.read()
            kept = CIMultiDict(
                (name, value)
                for name, value in answer.headers.items()
                if name.lower() not in _HOP_HEADERS
            )
            status = answer.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        FORWARDED.labels("unreachable").inc()
        logger.warning("cluster_forward_failed", node_url=node_url, error=repr(exc))
        raise ApiError(
            502,
            "the server holding this session did not answer; retry or start a new session",
            headers={"Access-Control-Allow-Origin": "*"},
        ) from None
    FORWARDED.labels("answered").inc()
    return web.Response(status=status, body=payload, headers=kept)
