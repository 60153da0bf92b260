"""Moving real money on the dev chain for billing tests."""

from __future__ import annotations

import uuid

import asyncpg
from substrateinterface import Keypair

from billing.chain import ChainClient
from billing.users_db import ensure_user
from signaling.config import AppConfig
from tests.support.chain_fixtures import dev_rpc, fresh_account
from tests.support.configs import configured
from vilokanam.devchain import DevChain

ROC = 10**12


async def transfer(chain: ChainClient, sender: Keypair, dest: str, amount: int) -> None:
    _, found = await chain.transfer(sender, dest, amount, timeout=30)
    assert found.success, found.error


async def funded_escrow(chain: ChainClient, amount: int = 100 * ROC) -> Keypair:
    """A fresh escrow account of this test alone, funded by //Alice."""
    escrow = fresh_account()
    await transfer(chain, Keypair.create_from_uri("//Alice"), escrow.ss58_address, amount)
    return escrow


async def chain_config(
    app_config: AppConfig,
    database_url: str,
    chain_url: str,
    chain: ChainClient,
    funds: int = 100 * ROC,
    **overrides: object,
) -> AppConfig:
    """The test app's config with the dev chain and a funded escrow account of its own."""
    escrow = Keypair.generate_mnemonic()
    await transfer(
        chain,
        Keypair.create_from_uri("//Alice"),
        Keypair.create_from_mnemonic(escrow).ss58_address,
        funds,
    )
    return configured(
        app_config,
        database_url=database_url,
        chain_url=chain_url,
        chain_public_url=chain_url,
        escrow_seed=escrow,
        **overrides,
    )


async def endow(dev_chain: DevChain, account: Keypair, free: int) -> None:
    """Set an account's free balance directly in chain storage (chopsticks' dev_setStorage)."""
    await dev_rpc(
        dev_chain,
        "dev_setStorage",
        [
            {
                "System": {
                    "Account": [
                        [[account.ss58_address], {"providers": 1, "data": {"free": str(free)}}]
                    ]
                }
            }
        ],
    )


async def creator_with_earnings(db: asyncpg.Pool, amount: int) -> tuple[Keypair, uuid.UUID]:
    """A fresh creator account with `amount` of earnings waiting to be paid out."""
    account = fresh_account()
    user = await ensure_user(db, account.public_key, 2)
    await db.execute(
        """INSERT INTO creator_earnings (creator_id, total_earnings, pending_payout)
           VALUES ($1, $2, $2)""",
        user["id"],
        amount,
    )
    return account, user["id"]
