"""Issue 10's acceptance soak, short version (CI): money adds up to the planck under kill -9.

Two creators, four viewers, ~35 s of paid watching with four SIGKILLs among the server and the
settlement, deposit and payout workers (see tests/billing/support/soak.py for the scenario and every
check). The seed is random and printed; `SOAK_SEED=n` replays one. The long version is
`make soak` (bench/soak.py), the same code with bigger numbers.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import asyncpg
import pytest

from billing.chain import ChainClient
from tests.billing.support.soak import Services, SoakPlan, money_checks, run_soak, summary

pytestmark = pytest.mark.soak


@pytest.mark.timeout(300)
async def test_money_adds_up_while_every_process_is_killed(
    dev_chain,
    chain_client: ChainClient,
    own_db: asyncpg.Pool,
    own_database_url: str,
    redis,
    redis_url: str,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("SOAK_SEED") or random.randrange(1_000_000))
    plan = SoakPlan(seed=seed, creators=2, viewers=4, seconds=35, kills=4, drain_s=40)
    services = Services(own_database_url, redis_url, redis_prefix, dev_chain.url, tmp_path)
    outcome = await run_soak(services, plan, chain_client, own_db, redis)
    checks = await money_checks(outcome, services, chain_client, own_db, redis)
    report = summary(outcome, checks)
    print(report)
    assert all(ok for _, ok, _ in checks), report
