"""The money soak, long version: the same scenario and checks as tests/billing/test_soak.py.

Starts its own PostgreSQL (or uses DATABASE_URL's server), Redis (or REDIS_URL) and chopsticks
dev chain, runs tests/billing/support/soak.py with the numbers given, prints every check and
exits 1 if one fails. Logs of every process stay in the printed work folder.

    .venv/bin/python bench/soak.py                                   # 10 min, 3 creators, 8 viewers
    .venv/bin/python bench/soak.py --seconds 120 --kills 20 --seed 7  # replay one seed
    make soak SOAK_ARGS="--seconds 1800 --kills 200"
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import sys
import tempfile
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from billing import ChainClient  # noqa: E402
from tests.billing.support.soak import Services, SoakPlan, money_checks, run_soak, summary  # noqa: E402
from tests.support.services import fresh_database, postgres_server, redis_server  # noqa: E402
from vilokanam.devchain import ensure_npm_installed, start_dev_chain  # noqa: E402


async def soak(plan: SoakPlan, database_url: str, redis_url: str, workdir: Path) -> bool:
    ensure_npm_installed(ROOT)
    chain = await start_dev_chain(ROOT, var_dir=workdir / "chain")
    services = Services(
        database_url, redis_url, f"vksoak{secrets.token_hex(4)}:", chain.url, workdir
    )
    client = await ChainClient.connect(chain.url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    redis = aioredis.from_url(redis_url)
    try:
        outcome = await run_soak(services, plan, client, pool, redis)
        checks = await money_checks(outcome, services, client, pool, redis)
    finally:
        await redis.aclose()
        await pool.close()
        await client.close()
        await chain.stop()
    print(summary(outcome, checks))
    return all(ok for _, ok, _ in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("--creators", type=int, default=3)
    parser.add_argument("--viewers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=600.0, help="of watching and killing")
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--drain", type=float, default=180.0, help="seconds allowed to settle")
    parser.add_argument("--freeze", type=float, default=8.0, help="seconds a viewer is frozen")
    args = parser.parse_args()
    seed = random.randrange(1_000_000) if args.seed is None else args.seed
    plan = SoakPlan(
        seed=seed,
        creators=args.creators,
        viewers=args.viewers,
        seconds=args.seconds,
        kills=args.kills,
        drain_s=args.drain,
        freeze_s=args.freeze,
    )
    workdir = Path(tempfile.mkdtemp(prefix="vilokanam-soak-"))
    with (
        postgres_server(workdir / "pg") as admin_url,
        fresh_database(admin_url) as db_url,
        redis_server(workdir / "redis") as redis_url,
    ):
        ok = asyncio.run(soak(plan, db_url, redis_url, workdir))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
