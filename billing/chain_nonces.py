"""Nonce allocation per signing account.

The runtime's nonce ignores transactions still pending in the pool, so two extrinsics signed back
to back from one account would get the same nonce. The allocator starts each account from the
node's ``system_accountNextIndex`` (which counts the pool), then hands out consecutive nonces
locally; after a rejection that shows the local view is wrong it is resynchronised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

logger = structlog.get_logger(__name__)


class NonceAllocator:
    """Hands out consecutive nonces per account; ``fetch(account)`` gives the node's next nonce."""

    def __init__(self, fetch: Callable[[str], Awaitable[int]]) -> None:
        self._fetch = fetch
        self._next: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def take(self, account: str) -> int:
        """Reserve the next nonce of ``account`` (an address in one fixed format)."""
        async with self._lock:
            if account not in self._next:
                self._next[account] = await self._fetch(account)
            nonce = self._next[account]
            self._next[account] = nonce + 1
            return nonce

    def resync(self, account: str) -> None:
        """Forget the local counter: the next ``take`` asks the node again."""
        if self._next.pop(account, None) is not None:
            logger.info("chain.nonce_resync", account=account)
