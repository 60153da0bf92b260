"""The money soak (issue 10, "Acceptance"): real money moves while every process is killed -9.

Creators publish paid streams over WHIP and viewers watch over WHEP, each in a process of its own
(tests/billing/support/soak_clients.py); viewers deposit real transfers to the escrow on the
chopsticks dev chain, some run out of balance and are cut, one freezes (SIGSTOP), one withdraws;
creators earn and are paid out. Meanwhile the server (`vilokanam run`) and the settlement,
deposit and payout workers (`vilokanam worker ROLE`) are SIGKILLed at random moments (seeded RNG,
seed printed) and restarted. Once everything drains, `vilokanam reconcile` must pass and, to the
planck (see `money_checks`):
  * Σ deposits on chain = Σ credited (PostgreSQL and Redis), each deposit once;
  * per viewer: deposits − charges − withdrawals − withdrawal fees = balance; a poor viewer
    ran out (balance below one second's price, never below zero);
  * Σ charges = Σ creator earnings + platform fee;
  * each creator's on-chain gain = their paid earnings;
  * no payout applied twice: the escrow's on-chain nonce = payouts that reached a block, and
    every finalized payout is found, successful, in its recorded block;
  * once the publishers left, no stream, stream session or view is left open (kill -9 of the
    server must not strand them);
  * seconds charged to a viewer on a stream ≤ seconds in which it received media frames (summed
    over the viewer's views of that stream: one viewer process watches one view at a time, and
    the server does not tell a client which `stream_viewers` row its WHEP session is).

Used by tests/billing/test_soak.py (short, in CI) and bench/soak.py (long; `make soak`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from substrateinterface import Keypair

from billing import OPEN_STATES, ChainClient, Meter
from tests.billing.support.chain_money import ROC, transfer
from tests.billing.support.processes import start_vilokanam, wait_healthy, worker_env
from tests.signaling.support.accounts import new_stream, sign_in
from tests.support.chain_fixtures import fresh_account
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
WORKER_ROLES = ("settlement", "deposits", "payouts")
ROLES = ("server", *WORKER_ROLES)
FUNDER = -1  # deposits by //Alice, who funds the escrow, are recorded under this index
ESCROW_FUNDS = 100 * ROC

# The server runs no billing loop of its own: the workers are the only settlement consumer,
# deposit watcher and payout signer (each killed and restarted on its own).
SERVER_ENV = {"BILLING_WORKERS": "none", "RECORDING": "false", "VOD_WORKER": "false"}
# Creator payouts often enough to happen a few times in a short soak (billing/payout_policy.py).
PAYOUT_ENV = {"PAYOUT_MIN_INTERVAL_S": "3", "PAYOUT_MAX_FEE_BPS": "100"}
# A poor viewer may start again with one second of balance left: it runs down to below the price.
VIEWING_ENV = {"MIN_VIEW_SECONDS": "1"}
POOR_SECONDS = 10  # what a poor viewer deposits, and tops up, in seconds of watching
RICH_SECONDS = 300
POOR_GRACE_S = 30.0  # at most this long after the timeline for the poor to run out


@dataclass(frozen=True)
class SoakPlan:
    seed: int
    creators: int = 2
    viewers: int = 4
    seconds: float = 40.0
    kills: int = 4
    drain_s: float = 60.0
    freeze_s: float = 6.0


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    redis_prefix: str
    chain_url: str
    workdir: Path


@dataclass
class Person:
    key: Keypair
    token: str = ""
    user_id: str = ""
    stream: dict = field(default_factory=dict)  # creators: their stream (id, stream_key)


@dataclass
class Outcome:
    """What the soak did and saw; `money_checks` judges it."""

    plan: SoakPlan
    escrow: Keypair
    price: int
    creators: list[Person]
    viewers: list[Person]
    deposits: list[tuple[int, int]] = field(default_factory=list)  # (viewer, planck)
    withdrawals: list[str] = field(default_factory=list)  # payout ids answered 202
    kills: list[tuple[float, str]] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)  # processes that exited on their own
    drained: bool = False
    drain_state: str = ""
    reconcile: tuple[int, str] = (0, "")


# --- processes --------------------------------------------------------------------------------


class Fleet:
    """The server and the billing workers: started, killed -9 and restarted by role."""

    def __init__(self, services: Services, escrow_seed: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = services.workdir
        self.logs = services.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = worker_env(
            services.database_url,
            services.redis_url,
            services.redis_prefix,
            CHAIN_URL=services.chain_url,
            ESCROW_SEED=escrow_seed,
            HTTP_PORT=str(self.port),
            RTC_HOST_ADDRESSES="127.0.0.1",
            ICE_SERVERS="",
            MEDIA_ROOT=str(services.workdir / "media"),
            VAR_DIR=str(services.workdir / "var"),
            **SERVER_ENV,
            **PAYOUT_ENV,
            **VIEWING_ENV,
        )
        self.env.pop("PUBLIC_URL", None)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._files: list[IO[bytes]] = []

    def _log(self, role: str) -> Path:
        return self.logs / f"{role}.log"

    async def start(self, role: str) -> None:
        args = ["run"] if role == "server" else ["worker", role, "--name", f"{role}-1"]
        log = self._log(role).open("ab")
        self._files.append(log)
        proc = self.procs[role] = start_vilokanam(args, self.env, log)
        if role == "server":
            await asyncio.to_thread(wait_healthy, self.url, proc, 120, self._log(role))

    def kill(self, role: str) -> None:
        proc = self.procs[role]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def exited(self) -> list[str]:
        """Roles whose process ended without being killed by us (each a failure)."""
        return [role for role, proc in self.procs.items() if proc.poll() is not None]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for log in self._files:
            log.close()


def report_path(workdir: Path, viewer: int) -> Path:
    """Where viewer process `viewer` reports the seconds it received media in."""
    return workdir / "clients" / f"viewer-{viewer}.jsonl"


class Clients:
    """Publisher and viewer processes (tests/billing/support/soak_clients.py)."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "clients"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{name}.log").open("ab")
        self._files.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.billing.support.soak_clients", *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a frozen viewer must be able to leave
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for log in self._files:
            log.close()


# --- money on chain ---------------------------------------------------------------------------


async def fund(chain: ChainClient, accounts: list[tuple[str, int]]) -> None:
    """One finalized batch from //Alice."""
    xt = await chain.sign_batch_transfer(Keypair.create_from_uri("//Alice"), accounts)
    await chain.submit(xt)
    found = await chain.wait_for_inclusion(xt, 60, finalized=True)
    assert found.success, found.error


async def deposit(chain: ChainClient, outcome: Outcome, viewer: int, amount: int) -> None:
    await transfer(chain, outcome.viewers[viewer].key, outcome.escrow.ss58_address, amount)
    outcome.deposits.append((viewer, amount))


async def account_nonce(chain_url: str, address: str) -> int:
    """The account's next nonce on chain: how many extrinsics it signed landed in blocks."""
    url = "http" + chain_url.removeprefix("ws")
    payload = {"jsonrpc": "2.0", "id": 1, "method": "system_accountNextIndex", "params": [address]}
    async with aiohttp.ClientSession() as http, http.post(url, json=payload) as resp:
        return int((await resp.json(content_type=None))["result"])


# --- the run ----------------------------------------------------------------------------------


async def sign_up(url: str, people: list[Person], creators: bool, price: int) -> None:
    async with aiohttp.ClientSession(url) as http:
        for person in people:
            person.token = await sign_in(http, person.key)  # type: ignore[arg-type]
            headers = {"Authorization": f"Bearer {person.token}"}
            async with http.get("/api/me", headers=headers) as response:
                person.user_id = (await response.json())["id"]
            if creators:
                async with http.patch(
                    "/api/me", headers=headers, json={"is_creator": True}
                ) as response:
                    assert response.status == 200, await response.text()
                person.stream = await new_stream(
                    http,
                    headers,  # type: ignore[arg-type]
                    price=str(price),
                    title="soak",
                )


async def withdraw(url: str, outcome: Outcome, viewer: int, amount: int) -> None:
    """POST a withdrawal; retried only while the server is down (never sent twice)."""
    headers = {"Authorization": f"Bearer {outcome.viewers[viewer].token}"}
    for _ in range(60):
        try:
            async with (
                aiohttp.ClientSession(url) as http,
                http.post(
                    "/api/me/withdraw", headers=headers, json={"amount": str(amount)}
                ) as resp,
            ):
                body = await resp.json(content_type=None)
                assert resp.status == 202, (resp.status, body)
                outcome.withdrawals.append(body["id"])
                return
        except aiohttp.ClientConnectorError:
            await asyncio.sleep(1)
    raise AssertionError("the server never came back to take the withdrawal")


async def wait_until(check: Callable[[], Awaitable[bool]], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.5)
    return False


def viewer_role(index: int) -> str:
    """Viewers take turns: one withdraws, one is poor (runs out, tops up), one freezes."""
    return ("withdraws", "poor", "freezes", "watches")[index % 4]


async def run_soak(
    services: Services,
    plan: SoakPlan,
    chain: ChainClient,
    pool: asyncpg.Pool,
    redis: aioredis.Redis,
) -> Outcome:
    print(
        f"soak seed {plan.seed} ({plan.creators} creators, {plan.viewers} viewers, "
        f"{plan.seconds:.0f} s, {plan.kills} kills); logs in {services.workdir}",
        flush=True,
    )
    rng = random.Random(plan.seed)
    escrow_seed = Keypair.generate_mnemonic()
    escrow = Keypair.create_from_mnemonic(escrow_seed)
    viewers = [Person(fresh_account()) for _ in range(plan.viewers)]
    creators = [Person(fresh_account()) for _ in range(plan.creators)]
    ed = await chain.existential_deposit()
    fee = await chain.estimate_fee(escrow, [(escrow.ss58_address, ed)])
    # A creator with two viewers reaches a payout (ED + fee, or 100 fees) in about 6 s.
    price = max(ed + fee, 100 * fee) // 10
    outcome = Outcome(plan, escrow, price, creators, viewers)

    fleet = Fleet(services, escrow_seed)
    clients = Clients(services.workdir)
    try:
        await fleet.start("server")
        for role in WORKER_ROLES:
            await fleet.start(role)
        await sign_up(fleet.url, creators, True, price)
        await sign_up(fleet.url, viewers, False, price)
        await _fund_and_deposit(chain, pool, outcome)
        watched = _start_clients(clients, fleet.url, outcome, services.workdir)
        await _timeline(plan, rng, fleet, outcome, chain, watched)
        # On a loaded machine the poor viewers may not have watched their balance away yet:
        # let them (the check that they were cut before going below zero stays as it is).
        await wait_until(
            functools.partial(_poor_ran_out, redis, fleet.env["REDIS_PREFIX"], outcome),
            POOR_GRACE_S,
        )
        clients.stop()
        outcome.drained, outcome.drain_state = await _drain(plan, fleet, outcome, pool, redis)
    finally:
        clients.stop()
        fleet.stop()
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "vilokanam", "reconcile"],
        env=fleet.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcome.reconcile = (result.returncode, result.stdout + result.stderr[-2000:])
    return outcome


async def _fund_and_deposit(chain: ChainClient, pool: asyncpg.Pool, outcome: Outcome) -> None:
    """Fund the escrow and the viewers from //Alice, then every viewer deposits."""
    # Deposits are watched from the head when the watcher first starts: let it start.
    assert await wait_until(lambda: _deposit_cursor(pool), 60), "deposit watcher never ran"
    # //Alice's transfer to the escrow (what pays payout fees) is a deposit like any other.
    await fund(
        chain,
        [(outcome.escrow.ss58_address, ESCROW_FUNDS)]
        + [(v.key.ss58_address, 1000 * outcome.price + ROC) for v in outcome.viewers],
    )
    outcome.deposits.append((FUNDER, ESCROW_FUNDS))
    await asyncio.gather(
        *(
            deposit(
                chain,
                outcome,
                i,
                (POOR_SECONDS if viewer_role(i) == "poor" else RICH_SECONDS) * outcome.price,
            )
            for i in range(len(outcome.viewers))
        )
    )


def _start_clients(
    clients: Clients, url: str, outcome: Outcome, workdir: Path
) -> list[subprocess.Popen[bytes]]:
    """A publisher per creator; viewers spread over the streams. The viewers' processes."""
    for creator in outcome.creators:
        clients.start(
            f"publisher-{creator.stream['id']}",
            "publish",
            url,
            creator.stream["id"],
            creator.stream["stream_key"],
        )
    watched = []
    for i, viewer in enumerate(outcome.viewers):
        stream = outcome.creators[i % len(outcome.creators)].stream["id"]
        watched.append(
            clients.start(
                f"viewer-{i}",
                "watch",
                url,
                stream,
                viewer.token,
                str(outcome.price),
                str(report_path(workdir, i)),
            )
        )
    return watched


async def _poor_ran_out(redis: aioredis.Redis, prefix: str, outcome: Outcome) -> bool:
    meter = Meter(redis, 0, prefix)
    balances = [
        await meter.balance(viewer.user_id)
        for i, viewer in enumerate(outcome.viewers)
        if viewer_role(i) == "poor"
    ]
    return all(balance < outcome.price for balance in balances)


async def _deposit_cursor(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval("SELECT count(*) FROM chain_cursors WHERE name LIKE 'deposits:%'")
    )


async def _timeline(
    plan: SoakPlan,
    rng: random.Random,
    fleet: Fleet,
    outcome: Outcome,
    chain: ChainClient,
    watched: list[subprocess.Popen[bytes]],
) -> None:
    """Kills at random moments; withdrawals, a top-up and a freeze at fixed fractions."""
    seconds = plan.seconds
    # Every role is killed as often as the others (± 1), in a random order at random moments.
    victims = [k % len(ROLES) for k in range(plan.kills)]
    rng.shuffle(victims)
    events: list[tuple[float, str, int]] = [
        (rng.uniform(3, seconds - 3), "kill", victim) for victim in victims
    ]
    for i in range(plan.viewers):
        match viewer_role(i):
            case "withdraws":
                events += [(0.3 * seconds, "withdraw", i), (0.6 * seconds, "withdraw", i)]
            case "poor":
                events.append((0.5 * seconds, "top-up", i))
            case "freezes":
                events.append((0.4 * seconds, "freeze", i))
    start = time.monotonic()
    for at, action, i in sorted(events):
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        await _restart_crashed(fleet, outcome)
        if action == "kill":
            role = ROLES[i]
            outcome.kills.append((round(time.monotonic() - start, 1), role))
            print(f"soak: kill -9 {role} at {outcome.kills[-1][0]} s", flush=True)
            fleet.kill(role)
            await fleet.start(role)
        elif action == "withdraw":
            await withdraw(fleet.url, outcome, i, 20 * outcome.price)
        elif action == "top-up":
            await deposit(chain, outcome, i, POOR_SECONDS * outcome.price)
        elif action == "freeze":
            # Frozen while it watches (not while it reconnects), so delivery goes on meanwhile.
            await wait_until(functools.partial(_receiving, report_path(fleet.workdir, i)), 15)
            os.kill(watched[i].pid, signal.SIGSTOP)
            asyncio.get_running_loop().call_later(
                plan.freeze_s, os.kill, watched[i].pid, signal.SIGCONT
            )
    await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))
    await _restart_crashed(fleet, outcome)


async def _receiving(report: Path) -> bool:
    """Whether the viewer received media in the last two seconds."""
    seconds = received_seconds(report)
    latest = max((max(s) for s in seconds.values()), default=0)
    return latest >= int(time.time()) - 1


async def _restart_crashed(fleet: Fleet, outcome: Outcome) -> None:
    for role in fleet.exited():
        outcome.crashes.append(f"{role} exited {fleet.procs[role].returncode}")
        print(f"soak: {role} exited on its own, restarting", flush=True)
        await fleet.start(role)


async def _drain(
    plan: SoakPlan, fleet: Fleet, outcome: Outcome, pool: asyncpg.Pool, redis: aioredis.Redis
) -> tuple[bool, str]:
    """Wait until every charge is settled, every deposit credited, and no payout or live
    session is open."""
    state = ""

    async def drained() -> bool:
        nonlocal state
        await _restart_crashed(fleet, outcome)
        state = await _open_work(pool, redis, fleet.env["REDIS_PREFIX"], len(outcome.deposits))
        return not state

    deadline = time.monotonic() + plan.drain_s
    while time.monotonic() < deadline:
        # Twice, a few seconds apart: a last tick or payout round may still be on its way.
        if await wait_until(drained, deadline - time.monotonic()):
            await asyncio.sleep(4)
            if await drained():
                return True, ""
    return False, state


async def _open_work(pool: asyncpg.Pool, redis: aioredis.Redis, prefix: str, deposits: int) -> str:
    """What is still in flight ('' when nothing)."""
    debits = (await Meter(redis, 0, prefix).totals()).debits
    settled = int(await pool.fetchval("SELECT COALESCE(sum(amount), 0) FROM settled_batches"))
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM deposits WHERE credited_at IS NOT NULL) AS credited,
                  (SELECT count(*) FROM payouts WHERE status = ANY($1::text[])) AS open,
                  (SELECT count(*) FROM stream_sessions WHERE end_time IS NULL) AS sessions""",
        list(OPEN_STATES),
    )
    waiting = []
    if debits != settled:
        waiting.append(f"charged {debits} but settled {settled}")
    if row["credited"] != deposits:
        waiting.append(f"{row['credited']}/{deposits} deposits credited")
    if row["open"]:
        waiting.append(f"{row['open']} payouts open")
    if row["sessions"]:  # a killed server's: the living one sweeps them once its beat expires
        waiting.append(f"{row['sessions']} sessions open")
    return "; ".join(waiting)


# --- the verdict ------------------------------------------------------------------------------


async def withdrawal_fees(pool: asyncpg.Pool, user_id: str) -> int:
    """What a viewer paid in fees for withdrawals that were not returned.

    The viewer pays their withdrawal's fee, recorded in `payouts.fee_charged`; a failed or
    expired withdrawal refunded it.
    """
    return int(
        await pool.fetchval(
            """SELECT COALESCE(sum(p.fee_charged), 0) FROM payouts p
           JOIN payout_items i ON i.payout_id = p.id
           WHERE p.kind = 'withdrawal' AND p.status NOT IN ('failed', 'expired')
             AND i.user_id = $1::uuid""",
            user_id,
        )
    )


def received_seconds(report: Path) -> dict[str, set[int]]:
    """Per stream, the seconds in which a viewer process received media frames."""
    seconds: dict[str, set[int]] = defaultdict(set)
    if report.exists():
        for line in report.read_text().splitlines():
            entry = json.loads(line)
            seconds[entry["stream"]].add(entry["second"])
    return seconds


Check = tuple[str, bool, str]


async def money_checks(
    outcome: Outcome,
    services: Services,
    chain: ChainClient,
    pool: asyncpg.Pool,
    redis: aioredis.Redis,
) -> list[Check]:
    meter = Meter(redis, 0, services.redis_prefix)
    checks: list[Check] = [
        ("no process exited on its own", not outcome.crashes, "; ".join(outcome.crashes)),
        ("everything drained", outcome.drained, outcome.drain_state),
        ("vilokanam reconcile passes", outcome.reconcile[0] == 0, outcome.reconcile[1]),
    ]
    checks.append(await _deposits_check(outcome, pool, meter))
    checks += await _viewer_checks(outcome, services, pool, meter)
    checks.append(await _split_check(pool))
    checks += await _creator_checks(outcome, chain, pool)
    checks += await _payout_checks(outcome, services, chain, pool)
    checks.append(await _records_check(pool))
    return checks


async def _records_check(pool: asyncpg.Pool) -> Check:
    """Every broadcast ended (publishers left): nothing may still look live or watched."""
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM streams WHERE status = 'live') AS live,
                  (SELECT count(*) FROM stream_sessions WHERE end_time IS NULL) AS sessions,
                  (SELECT count(*) FROM stream_viewers WHERE is_active) AS views"""
    )
    return (
        "after the broadcasts ended, no stream, session or view is left open",
        (row["live"], row["sessions"], row["views"]) == (0, 0, 0),
        f"{row['live']} streams live, {row['sessions']} sessions open, {row['views']} views active",
    )


async def _deposits_check(outcome: Outcome, pool: asyncpg.Pool, meter: Meter) -> Check:
    on_chain = sum(amount for _, amount in outcome.deposits)
    row = await pool.fetchrow("""SELECT count(*) AS n, COALESCE(sum(amount), 0) AS amount
                                 FROM deposits WHERE credited_at IS NOT NULL""")
    in_redis = (await meter.totals()).deposits
    ok = (row["n"], int(row["amount"]), in_redis) == (len(outcome.deposits), on_chain, on_chain)
    return (
        "Σ deposits on chain = Σ credited",
        ok,
        f"chain {len(outcome.deposits)} transfers {on_chain}; postgres {row['n']} "
        f"credited {row['amount']}; redis {in_redis}",
    )


async def _viewer_checks(
    outcome: Outcome, services: Services, pool: asyncpg.Pool, meter: Meter
) -> list[Check]:
    checks = []
    for i, viewer in enumerate(outcome.viewers):
        deposited = sum(amount for v, amount in outcome.deposits if v == i)
        charged = int(
            await pool.fetchval(
                "SELECT COALESCE(sum(paid_amount), 0) FROM stream_viewers"
                " WHERE viewer_id = $1::uuid",
                viewer.user_id,
            )
        )
        withdrawn = int(
            await pool.fetchval(
                """SELECT COALESCE(sum(i.amount), 0) FROM payout_items i
               JOIN payouts p ON p.id = i.payout_id
               WHERE p.kind = 'withdrawal' AND p.status NOT IN ('failed', 'expired')
                 AND i.user_id = $1::uuid""",
                viewer.user_id,
            )
        )
        fees = await withdrawal_fees(pool, viewer.user_id)
        balance = await meter.balance(viewer.user_id)
        checks.append(
            (
                f"viewer {i} ({viewer_role(i)}): deposits - charges - withdrawals - fees = balance",
                deposited - charged - withdrawn - fees == balance,
                f"{deposited} - {charged} - {withdrawn} - {fees} = {balance}",
            )
        )
        if viewer_role(i) == "poor":
            checks.append(
                (
                    f"viewer {i} (poor): ran out, cut before going below zero",
                    0 <= balance < outcome.price,
                    f"0 <= {balance} < {outcome.price}",
                )
            )
        ticks = await pool.fetch(
            """SELECT stream_id::text AS stream, sum(total_ticks) AS ticks, count(*) AS views
               FROM stream_viewers WHERE viewer_id = $1::uuid GROUP BY stream_id""",
            viewer.user_id,
        )
        received = received_seconds(report_path(services.workdir, i))
        for row in ticks:
            got = len(received.get(row["stream"], ()))
            checks.append(
                (
                    f"viewer {i} ({viewer_role(i)}): charged seconds <= seconds with frames",
                    int(row["ticks"]) <= got,
                    f"{row['ticks']} charged over {row['views']} views, frames in {got} seconds",
                )
            )
    return checks


async def _split_check(pool: asyncpg.Pool) -> Check:
    row = await pool.fetchrow(
        """SELECT (SELECT COALESCE(sum(paid_amount), 0) FROM stream_viewers) AS charged,
                  (SELECT COALESCE(sum(total_earnings), 0) FROM creator_earnings) AS earned,
                  (SELECT COALESCE(sum(fee), 0) FROM payments
                   WHERE payment_type = 'stream_view') AS fee"""
    )
    charged, earned, fee = (int(row[k]) for k in ("charged", "earned", "fee"))
    return (
        "Σ charges = Σ creator earnings + platform fee",
        charged == earned + fee,
        f"{charged} = {earned} + {fee}",
    )


async def _creator_checks(outcome: Outcome, chain: ChainClient, pool: asyncpg.Pool) -> list[Check]:
    checks = []
    for i, creator in enumerate(outcome.creators):
        paid = int(
            await pool.fetchval(
                """SELECT COALESCE(sum(i.amount), 0) FROM payout_items i
               JOIN payouts p ON p.id = i.payout_id
               WHERE p.kind = 'creator' AND p.status = 'finalized' AND i.user_id = $1::uuid""",
                creator.user_id,
            )
        )
        gained = await chain.free_balance(creator.key.ss58_address)
        checks.append(
            (f"creator {i}: on-chain gain = paid earnings", gained == paid, f"{gained} = {paid}")
        )
    return checks


async def _payout_checks(
    outcome: Outcome, services: Services, chain: ChainClient, pool: asyncpg.Pool
) -> list[Check]:
    landed = await pool.fetch(
        """SELECT id, status, extrinsic_hash, block_number FROM payouts
           WHERE block_number IS NOT NULL"""
    )
    nonce = await account_nonce(services.chain_url, outcome.escrow.ss58_address)
    missing = []
    for payout in landed:
        found = await chain.find_extrinsic(
            payout["extrinsic_hash"], payout["block_number"], payout["block_number"]
        )
        if found is None or found.success != (payout["status"] == "finalized"):
            missing.append(str(payout["id"]))
    statuses = dict(
        await pool.fetch(
            "SELECT id::text, status FROM payouts WHERE id = ANY($1::uuid[])", outcome.withdrawals
        )
    )
    unpaid = [p for p in outcome.withdrawals if statuses.get(p) != "finalized"]
    return [
        (
            "no payout applied twice: escrow extrinsics on chain = payouts in a block",
            nonce == len(landed),
            f"escrow nonce {nonce}, payouts in a block {len(landed)}",
        ),
        (
            "each payout in a block is found there, as recorded",
            not missing,
            f"{len(landed) - len(missing)}/{len(landed)}; not as recorded: {missing[:5]}",
        ),
        (
            "withdrawals answered 202 are paid",
            not unpaid,
            f"{len(outcome.withdrawals) - len(unpaid)}/{len(outcome.withdrawals)} finalized",
        ),
    ]


def summary(outcome: Outcome, checks: list[Check]) -> str:
    lines = [f"soak seed {outcome.plan.seed}: kills {outcome.kills}"]
    lines += [f"{'ok  ' if ok else 'FAIL'} {name}: {detail}" for name, ok, detail in checks]
    return "\n".join(lines)
