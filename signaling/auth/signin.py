"""Sign-in with a Substrate account: nonce → signed message → session token.

Nonces and sessions live in Redis. A nonce is consumed with GETDEL before anything else is
checked, so each one is usable exactly once even under concurrent attempts. Session tokens are
random, returned once, and stored only as their SHA-256 digest.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from substrateinterface import Keypair, KeypairType

from billing import ensure_user, public_key
from signaling.auth import users
from signaling.auth.sessions import open_session, redis_key
from signaling.auth.siws import SignInMessage, nonce_of, rfc3339
from signaling.http.errors import ApiError
from signaling.keys import CONFIG, PG, REDIS

logger = structlog.get_logger(__name__)


def _public_key_or_400(address: str) -> bytes:
    try:
        return public_key(address)
    except ValueError:
        raise ApiError(400, f"not a valid SS58 address: {address!r}", "invalid_address") from None


async def issue_nonce(request: web.Request, address: str) -> dict[str, str]:
    """Store a single-use nonce for `address`; the sign-in message to sign and its expiry."""
    key = _public_key_or_400(address)
    config = request.app[CONFIG]
    now = datetime.now(UTC).replace(microsecond=0)
    message = SignInMessage(
        domain=config.domain,
        address=address,
        uri=config.public_url,
        nonce=secrets.token_hex(16),
        issued_at=now,
        expires_at=now + timedelta(seconds=config.auth.nonce_ttl_s),
    )
    record = {"message": message.text(), "public_key": key.hex()}
    await request.app[REDIS].set(
        redis_key(request, "nonce", message.nonce), json.dumps(record), ex=config.auth.nonce_ttl_s
    )
    return {
        "message": message.text(),
        "nonce": message.nonce,
        "expires_at": rfc3339(message.expires_at),
    }


async def sign_in(
    request: web.Request, address: str, message: str, signature: str
) -> dict[str, Any]:
    """Consume the message's nonce, check the signature, open a session: token, expiry, user."""
    key = _public_key_or_400(address)
    raw_signature = _signature_bytes(signature)
    nonce = nonce_of(message)
    if nonce is None:
        raise ApiError(400, "message has no Nonce field; request one from /api/auth/nonce")
    raw = await request.app[REDIS].getdel(redis_key(request, "nonce", nonce))
    if raw is None:
        raise ApiError(401, "unknown, expired or already used nonce", "invalid_nonce")
    record = json.loads(raw)
    if record["message"] != message or record["public_key"] != key.hex():
        raise ApiError(401, "message or address differs from the one issued", "invalid_message")
    if not _signature_valid(key, message, raw_signature):
        raise ApiError(401, "signature does not match the address", "invalid_signature")
    user = await ensure_user(request.app[PG], key, request.app[CONFIG].auth.ss58_format)
    token, expires_at = await open_session(request, user["id"])
    logger.info("auth_signed_in", user_id=str(user["id"]))
    return {"token": token, "expires_at": rfc3339(expires_at), "user": users.public_view(user)}


def _signature_bytes(signature: str) -> bytes:
    text = signature.removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ApiError(400, "signature must be hex (0x…)", "invalid_signature") from None
    if len(raw) != 64:
        raise ApiError(400, "signature must be 64 bytes of sr25519", "invalid_signature")
    return raw


def _signature_valid(key: bytes, message: str, signature: bytes) -> bool:
    keypair = Keypair(public_key=key, ss58_format=42, crypto_type=KeypairType.SR25519)
    try:
        # Keypair.verify also accepts the polkadot.js signRaw form, <Bytes>message</Bytes>.
        return bool(keypair.verify(message, signature))
    except (ValueError, TypeError):
        return False
