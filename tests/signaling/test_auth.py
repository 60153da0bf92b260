"""Sign-in with real sr25519 keys through the HTTP API."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from substrateinterface import Keypair

from billing.accounts import to_ss58
from tests.signaling.support.accounts import sign_in

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")


async def _nonce(client: TestClient, address: str) -> dict:
    response = await client.post("/api/auth/nonce", json={"address": address})
    assert response.status == 201, await response.text()
    return await response.json()


def _sign(keypair: Keypair, message: str) -> str:
    return "0x" + keypair.sign(message).hex()


async def _verify(client: TestClient, address: str, message: str, signature: str):
    return await client.post(
        "/api/auth/verify", json={"address": address, "message": message, "signature": signature}
    )


async def _sessions(redis, prefix: str) -> int:
    return len([key async for key in redis.scan_iter(f"{prefix}session:*")])


async def test_good_signature_gives_token_and_me(client: TestClient, db: asyncpg.Pool) -> None:
    newcomer = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())
    token = await sign_in(client, newcomer)
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    body = await me.json()
    assert body["account_id"] == to_ss58(newcomer.public_key, 2)
    assert body["is_creator"] is False  # created on first sign-in as a plain viewer
    stored = await db.fetchval("SELECT public_key FROM users WHERE id = $1::uuid", body["id"])
    assert bytes(stored) == newcomer.public_key


async def test_message_binds_domain_uri_address_nonce_and_expiry(client: TestClient) -> None:
    issued = await _nonce(client, ALICE.ss58_address)
    message = issued["message"]
    assert message.startswith("127.0.0.1:8080 wants you to sign in with your Substrate account:")
    assert ALICE.ss58_address in message
    for field in (
        "URI: http://127.0.0.1:8080",
        f"Nonce: {issued['nonce']}",
        "Issued At: ",
        "Expiration Time: ",
    ):
        assert field in message


async def test_polkadot_js_bytes_wrapping_is_accepted(client: TestClient) -> None:
    issued = await _nonce(client, BOB.ss58_address)
    signature = _sign(BOB, f"<Bytes>{issued['message']}</Bytes>")
    response = await _verify(client, BOB.ss58_address, issued["message"], signature)
    assert response.status == 200


async def test_any_ss58_prefix_is_the_same_account(client: TestClient) -> None:
    polkadot_form = to_ss58(ALICE.public_key, 0)
    first = await (
        await client.get(
            "/api/me", headers={"Authorization": f"Bearer {await sign_in(client, ALICE)}"}
        )
    ).json()
    issued = await _nonce(client, polkadot_form)
    response = await _verify(
        client, polkadot_form, issued["message"], _sign(ALICE, issued["message"])
    )
    assert response.status == 200
    assert (await response.json())["user"]["id"] == first["id"]


@pytest.mark.parametrize("case", ["wrong_key", "tampered", "reused", "other_address"])
async def test_bad_sign_in_stores_nothing(
    client: TestClient, db: asyncpg.Pool, redis, redis_prefix: str, case: str
) -> None:
    charlie = Keypair.create_from_uri(f"//Charlie{case}")
    issued = await _nonce(client, charlie.ss58_address)
    message, address = issued["message"], charlie.ss58_address
    signature = _sign(charlie, message)
    if case == "wrong_key":
        signature = _sign(BOB, message)
    elif case == "tampered":
        message = message.replace("Version: 1", "Version: 2")
        signature = _sign(charlie, message)
    elif case == "reused":
        assert (await _verify(client, address, message, signature)).status == 200
        await db.execute("DELETE FROM users WHERE public_key = $1", charlie.public_key)
        await redis.delete(*[k async for k in redis.scan_iter(f"{redis_prefix}session:*")])
    elif case == "other_address":
        address = BOB.ss58_address
    response = await _verify(client, address, message, signature)
    assert response.status == 401
    assert (await response.json())["error"]["message"]
    assert (
        await db.fetchval("SELECT count(*) FROM users WHERE public_key = $1", charlie.public_key)
        == 0
    )
    assert await _sessions(redis, redis_prefix) == 0


async def test_expired_nonce_is_refused(client: TestClient, redis, redis_prefix: str) -> None:
    issued = await _nonce(client, ALICE.ss58_address)
    await redis.pexpire(f"{redis_prefix}nonce:{issued['nonce']}", 1)
    await asyncio.sleep(0.05)
    response = await _verify(
        client, ALICE.ss58_address, issued["message"], _sign(ALICE, issued["message"])
    )
    assert response.status == 401
    assert "nonce" in (await response.json())["error"]["message"]


async def test_concurrent_use_of_one_nonce_signs_in_once(client: TestClient) -> None:
    issued = await _nonce(client, ALICE.ss58_address)
    signature = _sign(ALICE, issued["message"])
    responses = await asyncio.gather(
        *(_verify(client, ALICE.ss58_address, issued["message"], signature) for _ in range(5))
    )
    assert sorted(r.status for r in responses) == [200, 401, 401, 401, 401]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/auth/nonce", {"address": "not-an-address"}, 400),
        ("/api/auth/nonce", {"address": ""}, 422),
        ("/api/auth/nonce", {}, 422),
        ("/api/auth/nonce", {"address": ALICE.ss58_address, "extra": 1}, 422),
        ("/api/auth/verify", {"address": "x" * 48, "message": "m", "signature": "0x00"}, 400),
        (
            "/api/auth/verify",
            {
                "address": ALICE.ss58_address,
                "message": "no nonce here",
                "signature": "0x" + "00" * 64,
            },
            400,
        ),
        (
            "/api/auth/verify",
            {"address": ALICE.ss58_address, "message": "Nonce: abc", "signature": "zz"},
            400,
        ),
    ],
)
async def test_malformed_input_gets_a_json_4xx(
    client: TestClient, db: asyncpg.Pool, path: str, body: dict, status: int
) -> None:
    users_before = await db.fetchval("SELECT count(*) FROM users")
    response = await client.post(path, json=body)
    assert response.status == status
    error = (await response.json())["error"]
    assert error["code"] and error["message"]
    assert await db.fetchval("SELECT count(*) FROM users") == users_before


async def test_non_json_and_broken_json_bodies(client: TestClient) -> None:
    text = await client.post("/api/auth/nonce", data="address=x")
    assert text.status == 415
    broken = await client.post(
        "/api/auth/nonce", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status == 400
    array = await client.post("/api/auth/nonce", json=[1, 2])
    assert array.status == 400


async def test_oversized_body_is_refused(client: TestClient) -> None:
    response = await client.post(
        "/api/auth/verify",
        data="x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_logout_revokes_the_token(client: TestClient) -> None:
    token = await sign_in(client, BOB)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/api/auth/logout", headers=headers)).status == 204
    assert (await client.get("/api/me", headers=headers)).status == 401
    assert (await client.post("/api/auth/logout", headers=headers)).status == 401


async def test_token_is_stored_only_as_digest(client: TestClient, redis, redis_prefix) -> None:
    token = await sign_in(client, ALICE)
    keys = [key.decode() async for key in redis.scan_iter(f"{redis_prefix}session:*")]
    assert keys and all(token not in key for key in keys)
    values = [await redis.get(key) for key in keys]
    assert all(token.encode() not in value for value in values)
