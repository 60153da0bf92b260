"""schemathesis against the running app (real PostgreSQL, Redis and dev chain).

Zero 5xx responses and zero responses that break the document, over every operation.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from signaling.config import AppConfig
from tests.billing.support.chain_money import ROC, chain_config
from tests.signaling.support.accounts import new_user
from vilokanam.wiring import create_app

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
MAX_EXAMPLES = os.environ.get("VILOKANAM_FUZZ_EXAMPLES", "12")
# CI replays one seed so a submission is judged on a fixed sample; local runs draw new cases
# every time (the seed is printed) and VILOKANAM_FUZZ_SEED replays a failure.
SEED = os.environ.get("VILOKANAM_FUZZ_SEED") or ("20261122" if os.environ.get("CI") else None)


@pytest.fixture
async def fuzz_client(
    app_config: AppConfig, own_database_url: str, dev_chain, chain_client, redis
) -> AsyncIterator[TestClient]:
    config = await chain_config(
        app_config, own_database_url, dev_chain.url, chain_client, funds=10 * ROC
    )
    async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
        yield client


# The schemathesis hooks, a file it loads itself (the run is in tmp_path, out of the tree).
HOOKS = Path(__file__).parent / "support" / "fuzz_hooks.py"


@pytest.mark.timeout(600)
async def test_schemathesis_finds_no_server_errors_or_schema_violations(
    fuzz_client: TestClient, tmp_path: Path
) -> None:
    headers = await new_user(fuzz_client, creator=True)
    base = str(fuzz_client.make_url(""))
    st = Path(sys.executable).with_name("st")
    proc = await asyncio.create_subprocess_exec(
        str(st),
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        MAX_EXAMPLES,
        "--phases",
        "examples,coverage,fuzzing",
        "--exclude-path",
        "/api/auth/logout",  # would revoke the token the run signs in with
        "-H",
        f"Authorization: {headers['Authorization']}",
        "--no-color",
        "--suppress-health-check",
        "all",
        "--continue-on-failure",
        *(["--seed", SEED] if SEED else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 540)
    text = output.decode(errors="replace")
    print(text[-2500:])  # the summary, visible with -s or on failure
    assert proc.returncode == 0, text[-6000:]
