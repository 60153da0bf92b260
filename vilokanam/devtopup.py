"""Dev-only top-up: a dev account pays the escrow on the dev chain, as a viewer's wallet would.

`vilokanam dev-topup //Bob 25` signs `balances.transfer_keep_alive` of 25 ROC from //Bob to the
server's escrow (from /api/billing/info), waits for it to be final, then waits for the server's
deposit watcher to credit it: the same path as a real deposit, so nothing is minted off-chain.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from substrateinterface import Keypair

from billing import ChainClient
from vilokanam.devlogin import DevLoginError, dev_login

_AMOUNT = re.compile(r"(\d+)(?:\.(\d+))?")
CREDIT_TIMEOUT_S = 60.0
"""How long to wait for the deposit watcher once the transfer is final."""


class DevTopUpError(Exception):
    pass


@dataclass(frozen=True)
class TopUp:
    """What a top-up did: planck moved on chain, and the balance the server shows after it."""

    address: str
    planck: int
    balance: int
    symbol: str
    decimals: int


def parse_units(text: str, decimals: int) -> int:
    """Planck in `text`, an amount in the chain's unit ("25", "0.5"); exact, no floats."""
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise DevTopUpError(f"not an amount: {text!r} (write it in the chain's unit, e.g. 2.5)")
    whole: str = match.group(1)
    fraction: str = match.group(2) or ""
    if len(fraction) > decimals:
        raise DevTopUpError(f"{text} has more than {decimals} decimals")
    planck: int = int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or 0)
    if planck <= 0:
        raise DevTopUpError("the amount must be above zero")
    return planck


def format_units(planck: int, decimals: int) -> str:
    """`planck` in the chain's unit, without trailing zeros ("2.5", "10")."""
    whole, fraction = divmod(planck, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


async def dev_topup(
    base_url: str, uri: str, amount: str, progress: Callable[[str], None] = print
) -> TopUp:
    """Move `amount` (in the chain's unit) from dev account `uri` to the server's escrow and
    wait until the server credits it to that account's balance."""
    keypair = Keypair.create_from_uri(uri) if uri.startswith("//") else None
    if keypair is None:
        raise DevTopUpError(f"not a dev key URI (expected //Name): {uri!r}")
    token = await dev_login(base_url, uri)
    async with aiohttp.ClientSession(base_url) as http:
        info = await _get(http, "/api/billing/info", token)
        chain_url, decimals = info.get("chain_url"), int(info["token_decimals"])
        if not chain_url:
            raise DevTopUpError("the server is not connected to a chain (CHAIN_URL)")
        planck = parse_units(amount, decimals)
        before = int((await _get(http, "/api/me/balance", token))["available"])
        progress(f"sending {amount} {info['token_symbol']} to the escrow {info['escrow_address']}")
        await _transfer(chain_url, keypair, info["escrow_address"], planck)
        progress("transfer final on chain; waiting for the server to credit it")
        balance = await _wait_for_credit(http, token, before + planck)
    return TopUp(keypair.ss58_address, planck, balance, info["token_symbol"], decimals)


async def _transfer(chain_url: str, keypair: Keypair, escrow: str, planck: int) -> None:
    chain = await ChainClient.connect(chain_url)
    try:
        _, inclusion = await chain.transfer(keypair, escrow, planck)
    finally:
        await chain.close()
    if not inclusion.success:
        raise DevTopUpError(f"the chain refused the transfer: {inclusion.error}")


async def _wait_for_credit(http: aiohttp.ClientSession, token: str, target: int) -> int:
    deadline = time.monotonic() + CREDIT_TIMEOUT_S
    while True:
        available = int((await _get(http, "/api/me/balance", token))["available"])
        if available >= target:
            return available
        if time.monotonic() > deadline:
            raise DevTopUpError(
                "the transfer is on chain but the server has not credited it yet "
                "(is the deposits worker running?)"
            )
        await asyncio.sleep(0.5)


async def _get(http: aiohttp.ClientSession, path: str, token: str) -> dict[str, Any]:
    try:
        async with http.get(path, headers={"Authorization": f"Bearer {token}"}) as response:
            data: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 400:
                raise DevTopUpError(f"{path} answered {response.status}: {data}")
            return data
    except aiohttp.ClientError as exc:
        raise DevTopUpError(f"cannot reach the server: {exc}") from None


__all__ = ["DevLoginError", "DevTopUpError", "TopUp", "dev_topup", "format_units", "parse_units"]
