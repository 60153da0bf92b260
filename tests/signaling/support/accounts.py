"""Signed-in test users, through the real sign-in endpoints, and users with a role."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp.test_utils import TestClient
from substrateinterface import Keypair

from signaling.auth import roles


async def sign_in(client: TestClient, keypair: Keypair) -> str:
    nonce = await client.post("/api/auth/nonce", json={"address": keypair.ss58_address})
    assert nonce.status == 201, await nonce.text()
    message = (await nonce.json())["message"]
    response = await client.post(
        "/api/auth/verify",
        json={
            "address": keypair.ss58_address,
            "message": message,
            "signature": "0x" + keypair.sign(message).hex(),
        },
    )
    assert response.status == 200, await response.text()
    return (await response.json())["token"]


async def new_user(client: TestClient, creator: bool = False) -> dict[str, str]:
    """Authorization headers of a fresh account (a creator if asked)."""
    keypair = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    headers = {"Authorization": f"Bearer {await sign_in(client, keypair)}"}
    if creator:
        response = await client.patch("/api/me", headers=headers, json={"is_creator": True})
        assert response.status == 200
    return headers


async def new_stream(
    client: TestClient, headers: dict[str, str], price: str = "0", title: str = "Test stream"
) -> dict:
    response = await client.post(
        "/api/streams", headers=headers, json={"title": title, "price_per_second": price}
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def whoami(client: TestClient, headers: dict[str, str]) -> dict:
    response = await client.get("/api/me", headers=headers)
    assert response.status == 200
    return await response.json()


async def user_with_role(client: TestClient, db: asyncpg.Pool, role: roles.Role) -> dict:
    """Headers of a fresh user granted `role` the way `vilokanam grant` does it."""
    headers = await new_user(client)
    me = await whoami(client, headers)
    key = await db.fetchval("SELECT public_key FROM users WHERE id = $1", uuid.UUID(me["id"]))
    assert await roles.grant(db, key, role) == me["account_id"]
    return headers
