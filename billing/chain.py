"""Async client of a Substrate chain (substrate-interface behind a small interface).

Three layers, one class: the connection and its reads (billing/chain_connection.py), following
inclusion (billing/chain_inclusion.py), and here signing and submission. Extrinsics are always
mortal (era period 64), get their nonce from a per-account allocator (billing/chain_nonces.py),
are submitted without waiting, and are then followed by scanning blocks for their hash.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException

from billing.chain_inclusion import ChainFollower
from billing.chain_nonces import NonceAllocator
from billing.chain_types import (
    ChainExpired,
    ChainRejected,
    ChainTimeout,
    Inclusion,
    SignedExtrinsic,
    Transfer,
    era_birth,
    extrinsic_hash,
)

__all__ = [
    "ERA_PERIOD",
    "ChainClient",
    "ChainExpired",
    "ChainRejected",
    "ChainTimeout",
    "Inclusion",
    "SignedExtrinsic",
    "Transfer",
]

logger = structlog.get_logger(__name__)

ERA_PERIOD = 64
"""Blocks a signed extrinsic stays valid (~13 min at 12 s blocks)."""


class ChainClient(ChainFollower):
    """One connection to a node that signs, submits and follows extrinsics.

    Create with :meth:`connect`, release with :meth:`close`.
    """

    def __init__(self, substrate: SubstrateInterface, executor: ThreadPoolExecutor) -> None:
        """Use :meth:`connect`: ``substrate`` must be initialised, ``executor`` its only thread."""
        super().__init__(substrate, executor)
        self._nonces = NonceAllocator(self._next_index)

    # -- signing --------------------------------------------------------------------------------

    async def sign_batch_transfer(
        self,
        keypair: Keypair,
        transfers: list[tuple[str, int]],
        nonce: int | None = None,
        *,
        era_period: int = ERA_PERIOD,
    ) -> SignedExtrinsic:
        """Sign ``utility.batch_all`` of ``balances.transfer_keep_alive`` (all land or none).

        ``nonce`` None takes the signer's next nonce from the allocator; give one only to re-sign
        a known nonce. ``era_period`` (a power of two, 4..65536) is for tests of expiry.
        """
        build = functools.partial(self._batch_call, transfers)
        return await self._sign(keypair, build, nonce, era_period)

    async def sign_transfer(
        self,
        keypair: Keypair,
        dest: str,
        amount: int,
        nonce: int | None = None,
        *,
        era_period: int = ERA_PERIOD,
    ) -> SignedExtrinsic:
        """Sign a single ``balances.transfer_keep_alive`` (same options as the batch)."""
        build = functools.partial(self._transfer_call, dest, amount)
        return await self._sign(keypair, build, nonce, era_period)

    async def transfer(
        self,
        keypair: Keypair,
        dest: str,
        amount: int,
        timeout: float = 60,  # noqa: ASYNC109 - the deadline is part of the contract
    ) -> tuple[SignedExtrinsic, Inclusion]:
        """Sign, send and follow one ``transfer_keep_alive`` into a finalized block (a dev
        top-up: the deposit watcher credits what it sees final)."""
        xt = await self.sign_transfer(keypair, dest, amount)
        await self.submit(xt)
        return xt, await self.wait_for_inclusion(xt, timeout, finalized=True)

    def release_nonce(self, xt: SignedExtrinsic) -> None:
        """The bytes of ``xt`` can never land (expired, or superseded before submission)."""
        self._nonces.release(xt.signer, xt.nonce)

    def reserve_nonces(self, signer: str, nonces: list[int]) -> None:
        """Nonces of stored extrinsics of ``signer`` not to hand out again (after a restart)."""
        self._nonces.reserve(self._address(signer), nonces)

    def forget_nonces(self, signer: str) -> None:
        """Another process may sign for ``signer`` now: trust only the node's next index."""
        self._nonces.forget(self._address(signer))

    async def estimate_fee(self, keypair: Keypair, transfers: list[tuple[str, int]]) -> int:
        """Partial fee (planck) the batch of ``sign_batch_transfer`` would pay."""
        info = await self._run(self._payment_info, keypair, transfers)
        # Spelled partial_fee or partialFee, depending on the substrate-interface version.
        return int(info["partial_fee"] if "partial_fee" in info else info["partialFee"])

    # -- submission -----------------------------------------------------------------------------

    async def submit(self, xt: SignedExtrinsic) -> None:
        """Send the signed bytes to the node's pool.

        Idempotent: bytes already pending or already on chain are not an error. Raises
        :class:`ChainRejected` otherwise, after releasing the nonce of the refused bytes (they
        will not land: the next ``take`` re-reads the node and fills that gap).
        """
        try:
            await self._rpc("author_submitExtrinsic", [xt.hex])
        except SubstrateRequestException as exc:
            await self._handle_rejection(xt, exc.args[0] if exc.args else exc)
            return
        logger.info("chain_submitted", xt_hash=xt.hash, signer=xt.signer, nonce=xt.nonce)

    # -- internals ------------------------------------------------------------------------------

    async def _next_index(self, address: str) -> int:
        return int(await self._rpc("system_accountNextIndex", [address]))

    async def _sign(
        self, keypair: Keypair, build_call: Callable[[], Any], nonce: int | None, period: int
    ) -> SignedExtrinsic:
        signer = self._address(keypair.public_key)
        allocated = nonce is None
        if nonce is None:
            nonce = await self._nonces.take(signer)
        try:
            xt = await self._run(self._sign_blocking, keypair, build_call, nonce, period)
        except BaseException:
            if allocated:
                self._nonces.release(signer, nonce)  # never used: do not leave a gap
            raise
        return xt

    def _sign_blocking(
        self, keypair: Keypair, build_call: Callable[[], Any], nonce: int, period: int
    ) -> SignedExtrinsic:
        call = build_call()
        # the era's checkpoint must be a block every node keeps: the finalized head
        current = self._substrate.get_block_number(self._substrate.get_chain_finalised_head())
        xt = self._substrate.create_signed_extrinsic(
            call, keypair, era={"period": period, "current": current}, nonce=nonce
        )
        encoded = str(xt.data)
        return SignedExtrinsic(
            hex=encoded,
            hash=extrinsic_hash(encoded),
            nonce=nonce,
            era_start=era_birth(current, period),
            era_period=period,
            signer=self._address(keypair.public_key),
        )

    def _transfer_call(self, dest: str, amount: int) -> Any:
        if not isinstance(amount, int) or amount <= 0:
            raise ValueError(f"transfer amount must be a positive int of planck, got {amount!r}")
        return self._substrate.compose_call(
            "Balances", "transfer_keep_alive", {"dest": self._address(dest), "value": amount}
        )

    def _batch_call(self, transfers: list[tuple[str, int]]) -> Any:
        if not transfers:
            raise ValueError("a batch needs at least one transfer")
        calls = [self._transfer_call(dest, amount) for dest, amount in transfers]
        return self._substrate.compose_call("Utility", "batch_all", {"calls": calls})

    def _payment_info(self, keypair: Keypair, transfers: list[tuple[str, int]]) -> dict[str, Any]:
        """The runtime's fee for the batch as it will be signed: the length fee counts bytes.

        ``get_payment_info`` prices an immortal extrinsic, one byte shorter than our mortal ones
        (about 3 % of a transfer's fee on the dev chain), so the extrinsic priced here has the
        same era and the signer's next nonce (its compact encoding has a length too).
        """
        call = self._batch_call(transfers)
        current = self._substrate.get_block_number(self._substrate.get_chain_finalised_head())
        address = self._address(keypair.public_key)
        nonce = int(self._substrate.rpc_request("system_accountNextIndex", [address])["result"])
        xt = self._substrate.create_signed_extrinsic(
            call,
            keypair,
            era={"period": ERA_PERIOD, "current": current},
            nonce=nonce,
            signature="0x" + "00" * 64,  # no valid signature is needed to price it
        )
        length = self._substrate.runtime_config.create_scale_object("u32")
        length.encode(len(xt.data))
        info: dict[str, Any] = self._substrate.runtime_call(
            "TransactionPaymentApi", "query_info", [xt, length]
        ).value
        return info

    async def _handle_rejection(self, xt: SignedExtrinsic, error: object) -> None:
        kind = classify_rejection(error)
        if kind == "known":
            logger.info("chain_submit_known", xt_hash=xt.hash, error=str(error))
            return
        if kind == "stale":
            # our nonce is used: by these very bytes (fine) or by another extrinsic (never lands)
            head, _ = await self.best_head()
            end = min(head, xt.era_start + xt.era_period - 1)
            if await self.find_extrinsic(xt.hash, xt.era_start, end) is not None:
                logger.info("chain_submit_already_included", xt_hash=xt.hash)
                return
        self._nonces.release(xt.signer, xt.nonce)
        logger.warning("chain_submit_rejected", xt_hash=xt.hash, kind=kind, error=str(error))
        raise ChainRejected(kind, error)


def classify_rejection(error: object) -> str:
    """Sort a node's refusal of an extrinsic: known, stale, future, priority or invalid.

    Substrate nodes answer 1013 "Transaction Already Imported", 1012 "temporarily banned" (seen
    recently), 1014 "Priority is too low", 1010 with "outdated"/"future" for nonce problems;
    chopsticks answers 1010 with the runtime's TransactionValidityError as JSON ("stale", ...).
    """
    code = error.get("code") if isinstance(error, dict) else None
    text = (json.dumps(error) if isinstance(error, dict) else str(error)).lower()
    if code in (1012, 1013) or "already imported" in text or "temporarily banned" in text:
        return "known"
    if "stale" in text or "outdated" in text:
        return "stale"
    if "future" in text:
        return "future"
    if code == 1014 or "priority is too low" in text:
        return "priority"
    return "invalid"
