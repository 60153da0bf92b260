"""A server killed with SIGKILL in the middle of a tip, after the meter paid and before it
answered; the client retries with the same Idempotency-Key on the restarted server, and the tip
is paid exactly once in all: balance, earnings, one payments row, reconcile.

The kill lands at that exact point without any hook in the server: the test holds a lock on
the tip's message row (an open transaction that inserted it), so the server, having paid
through the meter, waits on that row; the test sees the meter's record of the payment in Redis
and kills `vilokanam run` (its node dies with it) while the request is still open.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from contextlib import suppress
from pathlib import Path

import aiohttp
import asyncpg
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.reconcile import reconcile
from signaling.http.idempotency import operation_id
from tests.billing.support.chain_money import ROC, transfer
from tests.signaling.support.accounts import new_stream, sign_in, whoami
from tests.signaling.support.tipping import (
    balance,
    deposit,
    key_headers,
    signed_in,
    tip_rows,
    until,
)
from tests.support.cluster_run import run_env, shared_url, vilokanam_run
from vilokanam.devchain import DevChain

TIP = 3 * 10**11
FEE = TIP // 10


async def test_sigkill_mid_tip_then_retry_moves_money_once(
    tmp_path: Path,
    own_database_url: str,
    own_db: asyncpg.Pool,
    redis,
    redis_url: str,
    redis_prefix: str,
    dev_chain: DevChain,
    chain_client: ChainClient,
) -> None:
    escrow = Keypair.generate_mnemonic()
    alice = Keypair.create_from_uri("//Alice")
    await transfer(chain_client, alice, Keypair.create_from_mnemonic(escrow).ss58_address, ROC)
    env = run_env(
        database_url=own_database_url,
        redis_url=redis_url,
        prefix=redis_prefix,
        chain_url=dev_chain.url,
        node_secret="tip-kill-test-credential-" + "t" * 16,
        var=tmp_path,
        WORKERS="1",
        ESCROW_SEED=escrow,
        LOG_LEVEL="WARNING",
    )
    url = shared_url(env)
    key = "tip " + uuid.uuid4().hex
    body = {"amount": str(TIP), "message": "through a crash"}

    with vilokanam_run(env, tmp_path / "first.log") as first:
        async with aiohttp.ClientSession(base_url=url) as http:
            _, creator = await signed_in(http, sign_in)
            await http.patch("/api/me", headers=creator, json={"is_creator": True})
            stream = await new_stream(http, creator)  # type: ignore[arg-type]
            viewer_key, viewer = await signed_in(http, sign_in)
            await deposit(http, dev_chain, chain_client, viewer, viewer_key, 2 * ROC)
            viewer_id = uuid.UUID((await whoami(http, viewer))["id"])  # type: ignore[arg-type]
            creator_id = uuid.UUID((await whoami(http, creator))["id"])  # type: ignore[arg-type]
            tip_id = operation_id(viewer_id, key)
            path = f"/api/streams/{stream['id']}/tips"

            blocker = await asyncpg.connect(own_database_url)
            hold = blocker.transaction()
            await hold.start()
            await blocker.execute("INSERT INTO tip_messages (payment_id) VALUES ($1)", tip_id)
            request = asyncio.create_task(
                http.post(path, headers=key_headers(viewer, key), json=body)
            )

            async def meter_paid() -> bool:
                return bool(await redis.hexists(f"{redis_prefix}idem", f"pay:{tip_id}"))

            assert await until(meter_paid, 20), "the meter never paid the tip"
            assert not request.done()  # paid, not answered: kill it now
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            with suppress(aiohttp.ClientError):
                answered = await request
                raise AssertionError(f"answered {answered.status} before the kill")
            await hold.rollback()
            await blocker.close()
        assert await balance_in_meter(redis, redis_prefix, viewer_id) == 2 * ROC - TIP

    with vilokanam_run(env, tmp_path / "second.log", terminate_s=30):
        async with aiohttp.ClientSession(base_url=url) as http:

            async def retried() -> aiohttp.ClientResponse | None:
                response = await http.post(path, headers=key_headers(viewer, key), json=body)
                return None if response.status == 409 else response  # the mark lapses

            response = await until(retried, 20)
            assert response is not None and response.status == 201, await response.text()
            tip = await response.json()
            assert (tip["id"], tip["amount"], tip["fee"]) == (str(tip_id), str(TIP), str(FEE))
            again = await http.post(path, headers=key_headers(viewer, key), json=body)
            assert again.status == 201 and (await again.json()) == tip
            assert await balance(http, viewer) == 2 * ROC - TIP  # once in all

            expected = [(str(tip_id), viewer_id, creator_id, TIP, FEE)]

            async def settled() -> bool:
                return await tip_rows(own_db) == expected

            assert await until(settled, 30)
            earned = await own_db.fetchval(
                "SELECT total_earnings FROM creator_earnings WHERE creator_id = $1", creator_id
            )
            assert int(earned) == TIP - FEE
            report = await reconcile(own_db, redis, redis_prefix, None)
            assert report.ok, report.text()


async def balance_in_meter(redis, prefix: str, user_id: uuid.UUID) -> int:
    return int(await redis.get(f"{prefix}bal:{user_id}") or 0)
