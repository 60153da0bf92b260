"""The node credential: what one node shows another on an internal request.

Every node of a cluster is configured with the same NODE_SECRET; internal requests carry it as
`Authorization: Bearer`. It is compared in constant time and never logged. A node without one
serves no internal endpoint at all (404): it is not part of a cluster.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from signaling.auth.tokens import bearer
from signaling.http.errors import ApiError
from signaling.keys import CONFIG


def authorization(secret: str) -> dict[str, str]:
    """The header an internal request carries."""
    return {"Authorization": f"Bearer {secret}"}


def require_node(request: web.Request) -> None:
    """Let only another node of the cluster through: 404 when this node has no credential,
    401 when the request's is missing or wrong."""
    secret = request.app[CONFIG].cluster.node_secret
    if not secret:
        raise ApiError(404, "no internal endpoints: this node has no node credential")
    presented = bearer(request.headers.get("Authorization"))
    if presented is None or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise ApiError(
            401,
            "wrong or missing node credential (Authorization: Bearer <NODE_SECRET>)",
            headers={"WWW-Authenticate": 'Bearer realm="node"'},
        )
