"""Async client of a Substrate chain (substrate-interface behind a small interface).

SubstrateInterface is blocking and not thread-safe: every call to it runs in ONE dedicated worker
thread. Extrinsics are always mortal (era period 64), get their nonce from a per-account
allocator, are submitted without waiting, and are then followed by scanning blocks for their hash
(``submit_extrinsic(wait_for_inclusion=True)`` never reports dropped/invalid extrinsics). An
extrinsic hash is not unique on chain; (block number, extrinsic index) is.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import structlog
from substrateinterface import ExtrinsicReceipt, Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException
from websocket import WebSocketConnectionClosedException

from billing.accounts import to_ss58
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

_POLL_INTERVAL = 0.2  # seconds between looks at the head while waiting for an inclusion
_BLOCK_CACHE_SIZE = 512  # blocks whose extrinsic hashes are remembered (content of a hash is fixed)
_CONNECTION_ERRORS = (WebSocketConnectionClosedException, ConnectionError)

T = TypeVar("T")


class ChainClient:
    """One connection to a node. Create with :meth:`connect`, release with :meth:`close`."""

    ss58_format: int
    token_symbol: str
    token_decimals: int

    def __init__(self, substrate: SubstrateInterface, executor: ThreadPoolExecutor) -> None:
        """Use :meth:`connect`: ``substrate`` must be initialised, ``executor`` its only thread."""
        self._substrate = substrate
        self._executor = executor
        # read in the worker by _open: these properties are lazy RPCs
        self.ss58_format = substrate.ss58_format
        self.token_symbol = _first(substrate.token_symbol)
        self.token_decimals = _first(substrate.token_decimals)
        self._nonces = NonceAllocator(self._next_index)
        self._block_xts: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    @classmethod
    async def connect(cls, url: str, rpc_timeout: float = 30.0) -> ChainClient:
        """Connect to the node at ``url`` (ws:// or wss://) and load its runtime metadata.

        ``rpc_timeout`` bounds each socket operation, so a hung node raises instead of blocking.
        """
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chain")
        try:
            substrate = await asyncio.get_running_loop().run_in_executor(
                executor, _open, url, rpc_timeout
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        client = cls(substrate, executor)
        logger.info(
            "chain_connected",
            url=url,
            ss58_format=client.ss58_format,
            token=client.token_symbol,
            decimals=client.token_decimals,
        )
        return client

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        try:
            await self._run(self._substrate.close)
        finally:
            self._executor.shutdown(wait=False)

    # -- reads ----------------------------------------------------------------------------------

    async def existential_deposit(self) -> int:
        """Smallest balance an account may hold (planck)."""
        constant = await self._run(self._substrate.get_constant, "Balances", "ExistentialDeposit")
        return int(constant.value)

    async def free_balance(self, address: str) -> int:
        """Free balance (planck) of an account given in any SS58 format."""
        account = await self._run(
            self._substrate.query, "System", "Account", [self._address(address)]
        )
        return int(account.value["data"]["free"])

    async def finalized_head(self) -> tuple[int, str]:
        """Number and hash of the last finalized block."""
        block_hash = await self._rpc("chain_getFinalizedHead", [])
        return await self._block_number(block_hash), block_hash

    async def best_head(self) -> tuple[int, str]:
        """Number and hash of the best (possibly not yet finalized) block."""
        header = await self._rpc("chain_getHeader", [])
        number = int(header["number"], 16)
        return number, await self.block_hash(number) or ""

    async def block_hash(self, number: int) -> str | None:
        """Hash of canonical block ``number``, None if there is none."""
        block_hash: str | None = await self._rpc("chain_getBlockHash", [number])
        return block_hash

    async def transfers_in_block(self, block_hash: str, to_address: str) -> list[Transfer]:
        """``Balances.Transfer`` events of a block whose recipient is ``to_address``."""
        target = self._address(to_address)
        number = await self._block_number(block_hash)
        events = await self._run(self._substrate.get_events, block_hash)
        transfers = []
        for index, record in enumerate(events):
            event = record.value
            if (event["module_id"], event["event_id"]) != ("Balances", "Transfer"):
                continue
            source, dest, amount = _transfer_fields(event["attributes"])
            if self._address(dest) == target:
                transfers.append(
                    Transfer(block_hash, number, index, self._address(source), target, int(amount))
                )
        return transfers

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

    # -- submission and inclusion ---------------------------------------------------------------

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

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking substrate-interface call in the worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except _CONNECTION_ERRORS:
            # the node restarted or dropped us: reconnect once; every call here is safe to repeat
            logger.warning("chain_reconnect", url=self._substrate.url)
            self._substrate.connect_websocket()
            return fn(*args)

    async def _rpc(self, method: str, params: list[Any]) -> Any:
        return (await self._run(self._substrate.rpc_request, method, params))["result"]

    async def _block_number(self, block_hash: str) -> int:
        header = await self._rpc("chain_getHeader", [block_hash])
        if header is None:
            raise ValueError(f"unknown block {block_hash}")
        return int(header["number"], 16)

    async def _next_index(self, address: str) -> int:
        return int(await self._rpc("system_accountNextIndex", [address]))

    def _address(self, address_or_pubkey: str | bytes) -> str:
        return to_ss58(address_or_pubkey, self.ss58_format)

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

    def _payment_info(
        self, keypair: Keypair, transfers: list[tuple[str, int]]
    ) -> dict[str, Any]:
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
            call, keypair, era={"period": ERA_PERIOD, "current": current}, nonce=nonce,
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

    def _outcome(
        self, block_hash: str, xt_hash: str, index: int
    ) -> tuple[bool, str | None, int]:
        """(success, error, fee paid) of the extrinsic at ``index``, from the block's events."""
        receipt = ExtrinsicReceipt(
            self._substrate, extrinsic_hash=xt_hash, block_hash=block_hash, extrinsic_idx=index
        )
        fee = int(receipt.total_fee_amount or 0)
        if receipt.is_success:
            return True, None, fee
        message = receipt.error_message or {}
        return False, f"{message.get('type', 'Error')}.{message.get('name', 'Unknown')}", fee


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


def _open(url: str, rpc_timeout: float) -> SubstrateInterface:
    substrate = SubstrateInterface(url=url, ws_options={"timeout": rpc_timeout})
    substrate.init_runtime()  # also applies the runtime's System.SS58Prefix
    _ = substrate.token_symbol, substrate.token_decimals  # load the cached chain properties
    return substrate


def _first(value: Any) -> Any:
    """Multi-token chains report lists of symbols/decimals; the first is the native token."""
    return value[0] if isinstance(value, list) else value


def _transfer_fields(attributes: Any) -> tuple[str, str, int]:
    if isinstance(attributes, dict):
        return attributes["from"], attributes["to"], attributes["amount"]
    source, dest, amount = attributes  # older metadata: positional fields
    return source, dest, amount
