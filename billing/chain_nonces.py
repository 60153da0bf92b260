"""Nonce allocation per signing account.

The runtime's nonce ignores transactions still pending in the pool, so two extrinsics signed back
to back from one account would get the same nonce. Every ``take`` re-reads the node's
``system_accountNextIndex`` (which counts the pool) and hands out the lowest nonce from there that
no extrinsic signed here still holds. A nonce whose bytes can never land (signing failed, the
node refused them, their era expired, a racing driver lost) is released, so the next ``take``
fills that gap instead of signing past it (test_refused_payout_leaves_no_nonce_gap in
tests/billing/test_payouts.py). Held nonces below the node's next index are used: dropped.

One allocator per escrow account in the whole deployment: the payout signer holds a lease
(billing/signer_lease.py) and reserves the nonces of its stored, still open extrinsics on start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import structlog

logger = structlog.get_logger(__name__)


class NonceAllocator:
    """Hands out nonces per account; ``fetch(account)`` gives the node's next nonce."""

    def __init__(self, fetch: Callable[[str], Awaitable[int]]) -> None:
        self._fetch = fetch
        self._held: dict[str, set[int]] = {}
        self._lock = asyncio.Lock()

    async def take(self, account: str) -> int:
        """Reserve the next free nonce of ``account`` (an address in one fixed format)."""
        async with self._lock:
            chain_next = await self._fetch(account)
            held = {n for n in self._held.get(account, ()) if n >= chain_next}
            nonce = chain_next
            while nonce in held:
                nonce += 1
            held.add(nonce)
            self._held[account] = held
            return nonce

    def release(self, account: str, nonce: int) -> None:
        """``nonce`` will never be used by bytes signed here: hand it out again."""
        held = self._held.get(account)
        if held is not None and nonce in held:
            held.discard(nonce)
            logger.info("chain_nonce_released", account=account, nonce=nonce)

    def reserve(self, account: str, nonces: Iterable[int]) -> None:
        """Mark nonces of stored extrinsics (signed before, maybe not yet submitted) as held."""
        self._held.setdefault(account, set()).update(nonces)

    def forget(self, account: str) -> None:
        """Drop every held nonce (another process may sign now): the node's view is all."""
        if self._held.pop(account, None):
            logger.info("chain_nonce_resync", account=account)
