"""Dev-only sign-in: derive a dev key and go through the public nonce/verify endpoints."""

from __future__ import annotations

from typing import Any

import aiohttp
from substrateinterface import Keypair


class DevLoginError(Exception):
    pass


async def dev_login(base_url: str, uri: str) -> str:
    """Sign in as the dev account `uri` (e.g. //Alice) on the server at base_url; the token."""
    if not uri.startswith("//"):
        raise DevLoginError(f"not a dev key URI (expected //Name): {uri!r}")
    keypair = Keypair.create_from_uri(uri)
    async with aiohttp.ClientSession(base_url) as http:
        nonce = await _post(http, "/api/auth/nonce", {"address": keypair.ss58_address})
        signature = "0x" + keypair.sign(nonce["message"]).hex()
        session = await _post(
            http,
            "/api/auth/verify",
            {"address": keypair.ss58_address, "message": nonce["message"], "signature": signature},
        )
    token: str = session["token"]
    return token


async def _post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        async with http.post(path, json=body) as response:
            data: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 400:
                message = (data or {}).get("error", {}).get("message", response.reason)
                raise DevLoginError(f"{path} answered {response.status}: {message}")
            return data
    except aiohttp.ClientError as exc:
        raise DevLoginError(f"cannot reach the server: {exc}") from None
