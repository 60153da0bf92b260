"""Billing's runtime as the HTTP layer reaches it, when this server is connected to a chain."""

from __future__ import annotations

from aiohttp import web

from signaling.http.errors import ApiError
from signaling.keys import BILLING
from signaling.runtime.billing import BillingRuntime


def chain_billing(request: web.Request) -> BillingRuntime:
    """The billing runtime with its chain (escrow, payouts); 503 when there is none."""
    billing = request.app.get(BILLING)
    if billing is None or billing.chain is None:
        raise ApiError(503, "billing is not connected to a chain on this server")
    return billing
