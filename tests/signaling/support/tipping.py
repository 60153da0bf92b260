"""Money for tip tests, the way it really arrives: a deposit on the dev chain to the escrow,
credited by the server's deposit watcher; and what a tip left in PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from substrateinterface import Keypair

from billing.chain import ChainClient
from tests.billing.support.chain_money import ROC, endow, transfer
from tests.support.chain_fixtures import fresh_account
from vilokanam.devchain import DevChain

Http = Any  # an aiohttp TestClient or ClientSession: both take (path, headers=, json=)


async def until(check: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.25)


async def deposit(
    http: Http,
    dev_chain: DevChain,
    chain: ChainClient,
    headers: dict,
    account: Keypair,
    amount: int,
) -> None:
    """`account` (signed in with `headers`) pays `amount` to the escrow; wait until credited."""
    info = await (await http.get("/api/billing/info")).json()
    await endow(dev_chain, account, amount + 10 * ROC)  # the fee and the existential deposit
    before = await balance(http, headers)
    await transfer(chain, account, info["escrow_address"], amount)

    async def credited() -> bool:
        return await balance(http, headers) == before + amount

    assert await until(credited, 60), "the deposit was not credited"


async def balance(http: Http, headers: dict) -> int:
    response = await http.get("/api/me/balance", headers=headers)
    assert response.status == 200, await response.text()
    return int((await response.json())["available"])


async def signed_in(http: Http, sign_in: Callable[..., Awaitable[str]]) -> tuple[Keypair, dict]:
    account = fresh_account(2)
    return account, {"Authorization": f"Bearer {await sign_in(http, account)}"}


async def tip_rows(db: asyncpg.Pool) -> list[tuple[str, uuid.UUID, uuid.UUID, int, int]]:
    """(id, from, to, amount, fee) of every tip payment settled to PostgreSQL."""
    rows = await db.fetch(
        "SELECT id, from_user_id, to_user_id, amount, fee FROM payments"
        " WHERE payment_type = 'tip' ORDER BY created_at"
    )
    return [
        (str(r["id"]), r["from_user_id"], r["to_user_id"], int(r["amount"]), int(r["fee"]))
        for r in rows
    ]


def key_headers(headers: dict, key: str) -> dict:
    return {**headers, "Idempotency-Key": key}
