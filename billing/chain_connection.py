"""One connection to a Substrate node: its worker thread, reconnection and plain reads.

SubstrateInterface is blocking and not thread-safe: every call to it runs in ONE dedicated worker
thread (:meth:`ChainConnection._run`). A dropped websocket is reopened once per call; every call
made here is safe to repeat. Signing and inclusion build on this (billing/chain.py,
billing/chain_inclusion.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self, TypeVar

import structlog
from substrateinterface import SubstrateInterface
from websocket import WebSocketConnectionClosedException

from billing.accounts import to_ss58
from billing.chain_types import Transfer

logger = structlog.get_logger(__name__)

_CONNECTION_ERRORS = (WebSocketConnectionClosedException, ConnectionError)

T = TypeVar("T")


class ChainConnection:
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

    @classmethod
    async def connect(cls, url: str, rpc_timeout: float = 30.0) -> Self:
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

    # -- the worker thread ----------------------------------------------------------------------

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

    def _address(self, address_or_pubkey: str | bytes) -> str:
        return to_ss58(address_or_pubkey, self.ss58_format)


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
