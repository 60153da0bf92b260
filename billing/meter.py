"""Metering in Redis: balances, creator earnings, platform fee, tick counters and the ledger.

Every movement of money runs inside `meter.lua` (one atomic EVALSHA), so a crash of this process,
however timed, leaves Redis either before or after a whole batch.

Money invariants held here (ARCHITECTURE.md "Money"), each with the test that proves it:
  2. Each (view, second) is charged at most once: the script skips a second not after the
     view's last charged second (test_same_view_second_charged_once_in_one_batch,
     test_same_view_second_charged_once_across_batches, test_kill_9_mid_run_keeps_ledger_whole,
     test_view_state_outlives_the_view_by_view_ttl).
  3. Σ debits == Σ creator credits + Σ platform fee to the planck, in the kept totals and in the
     ledger (test_random_batches_balance_to_the_planck, test_kill_9_mid_run_keeps_ledger_whole).
Amounts are planck as Python ints; Redis holds them as decimal strings up to 2^63-1.

Two ways in: `charge` takes `Charge` objects and answers `ChargeResult`s (simple, for a few);
`charge_second` takes reusable `ViewLine`s and answers a `BatchResult` of compact arrays (the
tick service's way: ~1 µs of Python per charge instead of ~4, see docs/benchmarks.md).
Either way callers see `ChargeStatus`es: the script's reply encoding stays in this module.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import cast

import redis.asyncio
import structlog
from redis.exceptions import NoScriptError

from billing.ledger import Payment, ledger_key

logger = structlog.get_logger(__name__)

INT64_MAX = 2**63 - 1
MAX_BALANCE = INT64_MAX
"""The most planck one balance, earning or amount may hold here (Redis integers are int64).

Chain amounts are u128: a deposit above this is parked (billing/deposits.py), a withdrawal above
it refused; lifting it means widening the limbs of meter.lua, not a setting."""
BPS_DENOMINATOR = 10_000
CHUNK_SIZE = 5_000
"""Charges per EVALSHA: a larger batch would hold Redis (single-threaded) for too long."""
MAX_CHUNK_SIZE = 100_000
"""The most charges `meter.lua` takes in one call (its batch sums stay exact below it)."""
VIEW_TTL = 2 * 24 * 3600
"""Seconds a view's idempotency state lives after it was last written (0: forever).

States live in hourly Redis hash buckets (see meter.lua) that expire VIEW_TTL after their last
write, so a state outlives its view's last charge by at least VIEW_TTL: a batch older than that
is no longer recognised as a duplicate. Must be above 7200 s."""


class ChargeStatus(StrEnum):
    """What became of one charge (a str: compares, logs and labels as its value)."""

    CHARGED = "charged"
    DUPLICATE = "duplicate"  # this second of the view was charged before
    INSUFFICIENT = "insufficient"  # the viewer's balance could not pay it
    OVERFLOW = "overflow"  # earnings or the fee would pass 2^63-1 planck


_STATUS_BY_CODE: dict[str, ChargeStatus] = {
    "1": ChargeStatus.CHARGED,
    "2": ChargeStatus.DUPLICATE,
    "3": ChargeStatus.INSUFFICIENT,
    "4": ChargeStatus.OVERFLOW,
}
"""The script answers one digit per charge; these are their names."""


@dataclass(frozen=True)
class Charge:
    """One viewer-second to charge at the stream's price (planck per second)."""

    view_id: str
    viewer_id: str
    stream_id: str
    creator_id: str
    second: int
    price: int


@dataclass(frozen=True)
class ChargeResult:
    """Outcome of one Charge; ``balance_left`` is the viewer's balance after the whole batch.

    ``overflow`` means the creator's earnings or the platform fee would pass 2^63-1 planck:
    nothing was charged.
    """

    view_id: str
    status: ChargeStatus
    balance_left: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Outcome of a batch as compact arrays in input order, for callers that charge many.

    ``balances`` holds the viewer's balance after the chunk that held each charge; the
    statuses stay the script's reply digits (``_codes``, one per charge) until asked for, so
    nothing is built per charge unless a caller needs it.
    """

    _codes: str
    balances: list[int]

    def __len__(self) -> int:
        return len(self._codes)

    def statuses(self) -> list[ChargeStatus]:
        """Each charge's status, in batch order."""
        return list(map(_STATUS_BY_CODE.__getitem__, self._codes))

    def counts(self) -> dict[ChargeStatus, int]:
        """How many charges ended in each status."""
        return {_STATUS_BY_CODE[code]: n for code, n in Counter(self._codes).items()}

    def results(self, view_ids: Sequence[str]) -> list[ChargeResult]:
        """One `ChargeResult` per charge, given the charges' view ids in batch order."""
        return [
            ChargeResult(view_id, status, balance)
            for view_id, status, balance in zip(
                view_ids, self.statuses(), self.balances, strict=True
            )
        ]


@dataclass(frozen=True, slots=True)
class ViewLine:
    """The parts of a view's charge line that stay the same from one second to the next.

    Made by `Meter.view_line`; the tick service keeps one per view and `Meter.charge_second`
    puts the second in between, so a tick builds one string per charge and no objects.
    """

    head: str
    """``"view_id viewer_id stream_id creator_id "``"""
    tail: str
    """``" price fee\\n"``"""


@dataclass(frozen=True, slots=True)
class PayOutcome:
    """What became of a payment: paid or refused (short balance); fresh when this call decided."""

    paid: bool
    fresh: bool
    fee: int


@dataclass(frozen=True)
class Totals:
    """Kept counters since the beginning, for reconcile: debits == credits + fees."""

    debits: int
    creator_credits: int
    fees: int
    deposits: int
    withdrawals: int


def split(price: int, fee_bps: int) -> tuple[int, int]:
    """Split a price into (creator_amount, fee): fee = price * bps // 10000, rounding down.

    Done in Python because Lua numbers are doubles and price * bps can exceed 2^53.
    """
    _check_amount("price", price)
    if not 0 <= fee_bps <= BPS_DENOMINATOR:
        raise ValueError(f"fee_bps must be within 0..{BPS_DENOMINATOR}, got {fee_bps}")
    fee = price * fee_bps // BPS_DENOMINATOR
    return price - fee, fee


def _check_amount(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise ValueError(f"{name} must be an int within 0..2^63-1 planck, got {value!r}")


@cache
def _script() -> tuple[str, str]:
    """The script source and its SHA1, read once per process."""
    source = Path(__file__).with_name("meter.lua").read_text()
    return source, hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA1


def _decode_reply(reply: object, chunk: Sequence[str]) -> tuple[str, map[int]]:
    """The script's reply: (status digits, each charge's viewer balance)."""
    parts = (reply.decode() if isinstance(reply, bytes) else str(reply)).split(" ")
    codes = parts[0]
    if len(codes) != len(chunk) or len(parts) != len(chunk) + 1:
        raise RuntimeError(f"meter.lua answered {len(codes)} charges for {len(chunk)}")
    if "4" in codes:
        views = [line.split(" ", 1)[0] for line, c in zip(chunk, codes, strict=True) if c == "4"]
        logger.error("meter_overflow_refused", views=views[:10], count=len(views))
    return codes, map(int, parts[1:])


class Meter:
    """Charges viewer-seconds and moves balances through `meter.lua`."""

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        fee_bps: int,
        prefix: str = "vk:",
        *,
        chunk_size: int = CHUNK_SIZE,
        view_ttl: int = VIEW_TTL,
    ) -> None:
        split(0, fee_bps)  # validates fee_bps
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE or not (view_ttl == 0 or view_ttl > 2 * 3600):
            raise ValueError(
                f"chunk_size must be within 1..{MAX_CHUNK_SIZE} and view_ttl 0 or above 7200 s"
            )
        self._redis = redis
        self.fee_bps = fee_bps
        self.prefix = prefix
        self._chunk_size = chunk_size
        self._view_ttl = view_ttl
        self._tails: dict[int, str] = {}

    def key(self, name: str) -> str:
        """The full Redis key for a meter key name (e.g. ``bal:alice``)."""
        return self.prefix + name

    @property
    def ledger_key(self) -> str:
        """The Redis Stream holding one entry per charged batch (see billing/ledger.py)."""
        return ledger_key(self.prefix)

    async def _run(self, *args: str | int) -> object:
        source, sha = _script()
        try:
            return await self._redis.evalsha(sha, 0, *args)
        except NoScriptError:
            # Redis restarted or SCRIPT FLUSH: load again, then run the same call once more.
            logger.info("meter_script_load", sha=sha)
            await self._redis.script_load(source)
            return await self._redis.evalsha(sha, 0, *args)

    def _tail(self, price: int) -> str:
        """The end of a charge line, " price fee\\n", cached: prices are few."""
        tail = self._tails.get(price)
        if tail is None:
            if len(self._tails) > 4096:  # prices come from streams: few, but not bounded
                self._tails.clear()
            tail = self._tails[price] = f" {price} {split(price, self.fee_bps)[1]}\n"
        return tail

    def view_line(
        self, view_id: str, viewer_id: str, stream_id: str, creator_id: str, price: int
    ) -> ViewLine:
        """The reusable part of a view's charge lines (see `charge_second`)."""
        return ViewLine(f"{view_id} {viewer_id} {stream_id} {creator_id} ", self._tail(price))

    async def charge(self, charges: Sequence[Charge]) -> list[ChargeResult]:
        """Charge a batch, one EVALSHA per `chunk_size` charges; results in input order.

        Seconds of one view must arrive in increasing order: a second not after the view's last
        charged second is a duplicate and is never charged. Chunks run one after the other, so a
        view's seconds stay in order; each chunk is atomic on its own.
        """
        tail = self._tail
        lines = [
            f"{c.view_id} {c.viewer_id} {c.stream_id} {c.creator_id} {c.second}{tail(c.price)}"
            for c in charges
        ]
        batch = await self.charge_lines(lines)
        return batch.results([c.view_id for c in charges])

    async def charge_second(self, views: Sequence[ViewLine], second: int) -> BatchResult:
        """Charge one second of each view, as `charge` does, without a `Charge` per view."""
        text = str(second)
        return await self.charge_lines([v.head + text + v.tail for v in views])

    async def charge_lines(self, lines: Sequence[str]) -> BatchResult:
        """Charge packed lines ("view viewer stream creator second price fee\\n"), in chunks.

        The fee in each line must be `split(price, fee_bps)`'s: `charge` and `view_line` make
        such lines. Results come back as arrays, in input order.
        """
        codes: list[str] = []
        balances: list[int] = []
        for start in range(0, len(lines), self._chunk_size):
            chunk = lines[start : start + self._chunk_size]
            batch = "".join(chunk)
            # Ids hold no separators, or lines would shift; the script rejects other bad fields.
            if batch.count(" ") != 6 * len(chunk) or batch.count("\n") != len(chunk):
                raise ValueError("charge ids must not contain spaces or newlines")
            reply = await self._run("charge", self.prefix, self._view_ttl, len(chunk), batch)
            chunk_codes, chunk_balances = _decode_reply(reply, chunk)
            codes.append(chunk_codes)
            balances.extend(chunk_balances)
        return BatchResult("".join(codes), balances)

    async def credit(self, user_id: str, amount: int, idempotency_key: str) -> bool:
        """Add a deposit to a balance exactly once per key.

        Returns True when credited by this call, False when the key was already used.
        Raises (and credits nothing) when the balance would pass 2^63-1 planck.
        """
        _check_amount("amount", amount)
        return bool(await self._run("credit", self.prefix, user_id, amount, idempotency_key))

    async def debit_for_withdrawal(self, user_id: str, amount: int, idempotency_key: str) -> bool:
        """Take `amount` off a balance for a withdrawal, exactly once per key.

        Returns True when debited, by this call or an earlier one with the same key (so a retry
        after a crash sees success), False when the balance is below `amount` (nothing taken).
        """
        _check_amount("amount", amount)
        return bool(await self._run("withdraw", self.prefix, user_id, amount, idempotency_key))

    async def pay(self, payment: Payment) -> PayOutcome:
        """Move a one-off payment (a tip) exactly once per `payment.payment_id`.

        The viewer pays `amount`; the creator earns amount - fee (`split` with this meter's
        fee_bps), the platform the fee; one ledger entry of the payment's kind. A short balance
        refuses (moves nothing). A second call with the same id moves nothing and answers the
        first outcome (`fresh` False); the same id with other fields raises.
        """
        _check_amount("amount", payment.amount)
        fee = split(payment.amount, self.fee_bps)[1]
        fields = (payment.kind, payment.payment_id, payment.viewer_id, payment.creator_id)
        if payment.amount <= 0 or any(not f or " " in f for f in (*fields, payment.ref)):
            raise ValueError("a payment needs a positive amount and ids without spaces")
        reply = await self._run("pay", self.prefix, *fields, payment.ref, payment.amount, fee)
        outcome, fresh = (reply.decode() if isinstance(reply, bytes) else str(reply)).split(" ")
        return PayOutcome(paid=outcome == "1", fresh=fresh == "1", fee=fee)

    async def withdrawals_debited(self, idempotency_keys: list[str]) -> list[bool]:
        """Per key, whether `debit_for_withdrawal` took a balance with it (meter.lua's record);
        one round trip."""
        if not idempotency_keys:
            return []
        fields = [f"withdraw:{key}" for key in idempotency_keys]
        records = await self._redis.hmget(self.key("idem"), fields)
        return [record is not None for record in records]

    async def balance(self, user_id: str) -> int:
        """A viewer's available balance in planck (0 when unknown)."""
        return int(await self._redis.get(self.key(f"bal:{user_id}")) or 0)

    async def earnings(self, creator_id: str) -> int:
        """A creator's pending (not yet settled) earnings in planck."""
        return int(await self._redis.get(self.key(f"earn:{creator_id}")) or 0)

    async def platform_fees(self) -> int:
        """The platform's pending fee total in planck."""
        return int(await self._redis.get(self.key("fee:platform")) or 0)

    async def view_state(self, view_id: str) -> tuple[int, int]:
        """(last charged second, seconds charged) of a view; (-1, 0) when never charged."""
        reply = await self._run("views", self.prefix, self._view_ttl, view_id)
        [state] = cast(list[bytes | str], reply)  # one "last ticks" string per view asked
        last, ticks = (state.decode() if isinstance(state, bytes) else state).split(" ")
        return int(last), int(ticks)

    async def view_ticks(self, view_id: str) -> int:
        """How many seconds of this view were charged."""
        return (await self.view_state(view_id))[1]

    async def stream_ticks(self, stream_id: str) -> int:
        """How many viewer-seconds of this stream were charged."""
        return int(await self._redis.get(self.key(f"stream:{stream_id}:ticks")) or 0)

    async def totals(self) -> Totals:
        """Kept counters since the beginning (invariant 3: debits == creator_credits + fees)."""
        raw = await self._redis.hmget(
            self.key("totals"), ["debits", "credits", "fees", "deposits", "withdrawals"]
        )
        return Totals(*(int(v or 0) for v in raw))
