"""Random bearer secrets (session tokens, stream keys): shown once, stored as SHA-256.

SHA-256 without salt is enough here: the secrets carry 256 bits of entropy, so there is
nothing to brute-force, and a fixed hash lets us look a token up by its digest.
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """A URL-safe secret with a readable prefix (e.g. `vks_…`) so leaks are easy to grep for."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
