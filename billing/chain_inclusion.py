"""Following an extrinsic's inclusion: scanning canonical blocks for its hash.

``submit_extrinsic(wait_for_inclusion=True)`` never reports dropped or invalid extrinsics, so
submitted bytes are followed here instead. An extrinsic hash is not unique on chain; (block
number, extrinsic index) is. Mortal bytes not in any block of their era when the finalized chain
has passed it can never land (:class:`ChainExpired`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from substrateinterface import ExtrinsicReceipt, SubstrateInterface

from billing.chain_connection import ChainConnection
from billing.chain_types import (
    ChainExpired,
    ChainTimeout,
    Inclusion,
    SignedExtrinsic,
    extrinsic_hash,
)

_POLL_INTERVAL = 0.2  # seconds between looks at the head while waiting for an inclusion
_BLOCK_CACHE_SIZE = 512  # blocks whose extrinsic hashes are remembered (content of a hash is fixed)


class ChainFollower(ChainConnection):
    """A connection that finds extrinsics in blocks and waits for them to land."""

    def __init__(self, substrate: SubstrateInterface, executor: ThreadPoolExecutor) -> None:
        super().__init__(substrate, executor)
        self._block_xts: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    async def find_extrinsic(
        self, xt_hash: str, from_block: int, to_block: int | None = None
    ) -> Inclusion | None:
        """First canonical block in ``[from_block, to_block]`` (default: best head) holding it."""
        if to_block is None:
            to_block = (await self.best_head())[0]
        for number in range(max(from_block, 0), to_block + 1):
            inclusion = await self._inclusion_at(number, xt_hash)
            if inclusion is not None:
                return inclusion
        return None

    async def wait_for_inclusion(
        self,
        xt: SignedExtrinsic,
        timeout: float = 30,  # noqa: ASYNC109 - the deadline is part of the contract
        finalized: bool = False,
    ) -> Inclusion:
        """Follow new blocks until ``xt`` is in one (in a finalized one if ``finalized``).

        Raises :class:`ChainExpired` when the finalized chain has passed the end of its era and
        no block of the era holds it (the bytes can never land: safe to sign anew), and
        :class:`ChainTimeout` after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        scan_from = xt.era_start
        while True:
            head, _ = await self.best_head()
            found = await self.find_extrinsic(xt.hash, scan_from, head)
            if found is None:
                scan_from = max(scan_from, head + 1)
                found = await self._final_verdict(xt)
            if found is not None and (found.finalized or not finalized):
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ChainTimeout(f"{xt.hash} not included within {timeout}s")
            await asyncio.sleep(min(_POLL_INTERVAL, remaining))

    async def _final_verdict(self, xt: SignedExtrinsic) -> Inclusion | None:
        """Once the era is over on the finalized chain, rescan it whole: found, or expired."""
        final_number, _ = await self.finalized_head()
        if not xt.expired_at(final_number + 1):
            return None
        last = xt.era_start + xt.era_period - 1
        # a full rescan, not the incremental one: a reorg may have moved it to a scanned height
        found = await self.find_extrinsic(xt.hash, xt.era_start, last)
        if found is None:
            raise ChainExpired(f"{xt.hash} is in no block of its era (ended at block {last})")
        return found

    # -- internals ------------------------------------------------------------------------------

    async def _inclusion_at(self, number: int, xt_hash: str) -> Inclusion | None:
        block_hash = await self.block_hash(number)
        if block_hash is None:
            return None
        hashes = await self._extrinsic_hashes(block_hash)
        if xt_hash not in hashes:
            return None
        index = hashes.index(xt_hash)
        success, error, fee = await self._run(self._outcome, block_hash, xt_hash, index)
        finalized = number <= (await self.finalized_head())[0]
        return Inclusion(number, block_hash, index, success, error, finalized, fee)

    async def _extrinsic_hashes(self, block_hash: str) -> tuple[str, ...]:
        cached = self._block_xts.get(block_hash)
        if cached is None:
            block = await self._rpc("chain_getBlock", [block_hash])
            cached = tuple(extrinsic_hash(x) for x in block["block"]["extrinsics"])
            self._block_xts[block_hash] = cached
            if len(self._block_xts) > _BLOCK_CACHE_SIZE:
                self._block_xts.popitem(last=False)
        return cached

    def _outcome(self, block_hash: str, xt_hash: str, index: int) -> tuple[bool, str | None, int]:
        """(success, error, fee paid) of the extrinsic at ``index``, from the block's events."""
        receipt = ExtrinsicReceipt(
            self._substrate, extrinsic_hash=xt_hash, block_hash=block_hash, extrinsic_idx=index
        )
        fee = int(receipt.total_fee_amount or 0)
        if receipt.is_success:
            return True, None, fee
        message = receipt.error_message or {}
        return False, f"{message.get('type', 'Error')}.{message.get('name', 'Unknown')}", fee
