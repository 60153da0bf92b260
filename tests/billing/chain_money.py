"""Moving real money on the dev chain for billing tests."""

from __future__ import annotations

from substrateinterface import Keypair

from billing.chain import ChainClient
from tests.chain_fixtures import fresh_account

ROC = 10**12


async def transfer(chain: ChainClient, sender: Keypair, dest: str, amount: int) -> None:
    xt = await chain.sign_transfer(sender, dest, amount)
    await chain.submit(xt)
    found = await chain.wait_for_inclusion(xt, 30, finalized=True)
    assert found.success, found.error


async def funded_escrow(chain: ChainClient, amount: int = 100 * ROC) -> Keypair:
    """A fresh escrow account of this test alone, funded by //Alice."""
    escrow = fresh_account()
    await transfer(chain, Keypair.create_from_uri("//Alice"), escrow.ss58_address, amount)
    return escrow
