"""Local Substrate dev chain: chopsticks started offline from the Rococo Asset Hub chain spec.

The spec (with runtime code) ships inside the npm package `@substrate/connect-known-chains`; it is
extracted once into ``var/chain/``. chopsticks builds a block for every extrinsic (Instant mode)
and reports its head as finalized, so deposits are final as soon as they are in a block.
Nothing is fetched at run time: no `endpoint`, no wasm override, no database.

Run by hand with ``python -m vilokanam.devchain --port 9944``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import structlog
from substrateinterface import Keypair

from vilokanam.signals import stop_on_signals

logger = structlog.get_logger(__name__)

ESCROW_URI = "//Vilokanam//escrow"
"""Dev derivation of the platform escrow account (deposits land here, payouts leave from here)."""

_ROC = 10**12  # planck per ROC (tokenDecimals 12)
_DEV_NAMES = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")
DEV_ACCOUNTS: dict[str, int] = {
    **{f"//{name}": 1_000_000 * _ROC for name in _DEV_NAMES},
    ESCROW_URI: 1_000 * _ROC,
}
"""Dev account URI -> free balance (planck) written into genesis storage."""

CHAIN_NAME = "rococo_v2_2_asset_hub"
"""Export of `@substrate/connect-known-chains` the dev chain starts from."""

_CONFIG_DIR = Path(__file__).with_name("chain_config")
_KNOWN_CHAINS_PACKAGE = Path("node_modules/@substrate/connect-known-chains/package.json")
_CHOPSTICKS_BIN = Path("node_modules/.bin/chopsticks")
_LISTENING = re.compile(r"RPC listening on http://([^\s:]+|\[[^\]]+\]):(\d+)")
_BOOT_TIMEOUT = 90.0  # seconds; boots in 3-5 s alone, much slower when the 2 cores are busy
_KEEP_FILES = 24 * 3600.0  # seconds a node log or per-port config is kept under var_dir
_run_ids = itertools.count(1)


class DevChainError(RuntimeError):
    """The dev chain could not be set up or did not come up."""


@dataclass
class DevChain:
    """A running chopsticks process and where to reach it."""

    url: str
    process: asyncio.subprocess.Process | subprocess.Popen[bytes]
    log_path: Path | None = None

    async def stop(self) -> None:
        """SIGTERM the node and its process group, SIGKILL it if it lingers, and reap it."""
        await asyncio.to_thread(_terminate, self.process)
        logger.info("devchain_stopped", url=self.url)


def _terminate(
    process: asyncio.subprocess.Process | subprocess.Popen[bytes], grace: float = 10.0
) -> None:
    if process.returncode is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if _reaped(process):
            return
        time.sleep(0.05)
    _signal_group(process.pid, signal.SIGKILL)
    while not _reaped(process):
        time.sleep(0.05)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the node was started as leader of its own group
    except ProcessLookupError:
        pass


def _reaped(process: asyncio.subprocess.Process | subprocess.Popen[bytes]) -> bool:
    if isinstance(process, subprocess.Popen):
        return process.poll() is not None
    return process.returncode is not None


def ensure_npm_installed(root: Path) -> None:
    """Install the npm packages of ``root/package.json`` unless ``node_modules`` has chopsticks.

    Uses ``npm ci`` when a lock file exists. ``--ignore-scripts`` skips building the optional
    sqlite3 module from source (~2 min); chopsticks runs without it when no ``db`` is configured.
    """
    if (root / _CHOPSTICKS_BIN).exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise DevChainError("npm not found: install Node.js 20+ and npm to run the dev chain")
    verb = "ci" if (root / "package-lock.json").exists() else "install"
    logger.info("devchain_npm_install", root=str(root), verb=verb)
    result = subprocess.run(
        [npm, verb, "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not (root / _CHOPSTICKS_BIN).exists():
        raise DevChainError(f"npm {verb} failed in {root}:\n{result.stderr[-2000:]}")


def dev_keypair(uri: str, ss58_format: int = 42) -> Keypair:
    """The sr25519 keypair of a dev URI such as ``//Alice`` or ``ESCROW_URI``."""
    return Keypair.create_from_uri(uri, ss58_format=ss58_format)


def prepare_files(root: Path, var_dir: Path, port: int) -> Path:
    """Write the chain spec, genesis storage and chopsticks config under ``var_dir``.

    Returns the config path. Files shared by concurrent chains are replaced atomically; the
    config is per port so that several chains (several test sessions) can run side by side.
    """
    if not (root / _CHOPSTICKS_BIN).exists():
        raise DevChainError(
            f"{root / _CHOPSTICKS_BIN} not found: run `npm ci --ignore-scripts` in {root} "
            "(or call vilokanam.devchain.ensure_npm_installed)"
        )
    var_dir.mkdir(parents=True, exist_ok=True)
    _remove_old_files(var_dir)
    spec = _extract_spec(root, var_dir)
    storage = var_dir / "storage.json"
    _write_atomic(storage, json.dumps(_genesis_storage(), indent=1))
    config = var_dir / f"chopsticks-{port}.json"  # JSON is YAML: chopsticks reads it as config
    settings = {
        "genesis": str(spec),
        "host": "127.0.0.1",
        "port": port,
        "build-block-mode": "Instant",
        "import-storage": str(storage),
    }
    _write_atomic(config, json.dumps(settings, indent=1))
    return config


def _extract_spec(root: Path, var_dir: Path) -> Path:
    """Extract the raw chain spec from the npm package (once, again when the package changes)."""
    spec = var_dir / f"{CHAIN_NAME}.json"
    package = root / _KNOWN_CHAINS_PACKAGE
    if spec.exists() and spec.stat().st_mtime >= package.stat().st_mtime:
        return spec
    node = _node()
    result = subprocess.run(
        [node, str(_CONFIG_DIR / "extract_spec.js"), CHAIN_NAME],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise DevChainError(f"chain spec extraction failed: {result.stderr.decode()[-2000:]}")
    json.loads(result.stdout)  # fail here, not inside chopsticks, on a broken spec
    _write_atomic(spec, result.stdout.decode())
    return spec


def _genesis_storage() -> dict[str, Any]:
    """chopsticks `import-storage`: funded `System.Account` entries for every dev account."""
    accounts = [
        [[dev_keypair(uri).ss58_address], {"providers": 1, "data": {"free": str(free)}}]
        for uri, free in DEV_ACCOUNTS.items()
    ]
    return {"System": {"Account": accounts}}


def _remove_old_files(var_dir: Path) -> None:
    cutoff = time.time() - _KEEP_FILES
    for path in var_dir.glob("chopsticks-*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass  # another session cleaned it first


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise DevChainError("node not found: install Node.js 20+ to run the dev chain")
    return node


async def start_dev_chain(root: Path, port: int = 0, var_dir: Path | None = None) -> DevChain:
    """Start chopsticks on 127.0.0.1 and return once its RPC answers.

    ``root`` is the repository root holding ``node_modules``; ``port`` 0 lets the OS pick a free
    port. Generated files and the node's log go to ``var_dir`` (default ``root/var/chain``).
    """
    var_dir = var_dir or root / "var" / "chain"
    config = prepare_files(root, var_dir, port)
    log_path = var_dir / f"chopsticks-{port or 'auto'}-{os.getpid()}-{next(_run_ids)}.log"
    process = _spawn(root, config, log_path)
    try:
        url = await _wait_until_serving(process, log_path)
        if port and not url.endswith(f":{port}"):
            # chopsticks silently moves to the next port when the asked one is busy
            raise DevChainError(f"port {port} is in use (chopsticks fell back to {url})")
    except BaseException:
        await asyncio.to_thread(_terminate, process)
        raise
    logger.info("devchain_started", url=url, pid=process.pid, log=str(log_path))
    return DevChain(url=url, process=process, log_path=log_path)


def chopsticks_log_level(level: str | None) -> str:
    """Our LOG_LEVEL (Python's spelling: INFO, DEBUG) as chopsticks accepts it.

    chopsticks (pino) exits at boot on upper-case names, and we find its port in its "RPC
    listening" info line, so it never logs above `info`.
    """
    name = (level or "").strip().lower()
    return name if name in ("trace", "debug") else "info"


def _spawn(root: Path, config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    # Start chopsticks' script with node directly: an npx wrapper would survive as the only
    # process we can signal while the node keeps running.
    env = {k: v for k, v in os.environ.items() if k != "PORT"}  # PORT overrides the config
    env.update(
        LOG_COMPACT="true",
        NODE_NO_WARNINGS="1",
        LOG_LEVEL=chopsticks_log_level(os.environ.get("LOG_LEVEL")),
    )
    script = (root / _CHOPSTICKS_BIN).resolve()
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [_node(), str(script), "--config", str(config)],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # own process group: stop() signals the whole tree
        )


async def _wait_until_serving(process: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + _BOOT_TIMEOUT
    url = None
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DevChainError(
                    f"chopsticks exited with {process.returncode}:\n{_log_tail(log_path)}"
                )
            url = url or _listening_url(log_path)
            if url and await _rpc_answers(http, url):
                return "ws" + url.removeprefix("http")
            await asyncio.sleep(0.1)
    raise DevChainError(f"chopsticks did not serve within {_BOOT_TIMEOUT}s:\n{_log_tail(log_path)}")


def _listening_url(log_path: Path) -> str | None:
    match = _LISTENING.search(log_path.read_text(errors="replace"))
    return f"http://{match.group(1)}:{match.group(2)}" if match else None


async def _rpc_answers(http: aiohttp.ClientSession, url: str) -> bool:
    payload = {"jsonrpc": "2.0", "id": 1, "method": "chain_getHeader", "params": []}
    try:
        async with http.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return False
    return isinstance(body, dict) and body.get("result") is not None


def _log_tail(log_path: Path, size: int = 3000) -> str:
    try:
        return log_path.read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return "(no log)"


async def _serve(root: Path, port: int) -> None:
    ensure_npm_installed(root)
    chain = await start_dev_chain(root, port)
    print(f"dev chain at {chain.url} (log {chain.log_path}); Ctrl-C to stop", flush=True)
    stopped = stop_on_signals()
    waiters = [
        asyncio.create_task(stopped.wait()),
        asyncio.create_task(asyncio.to_thread(chain.process.wait)),  # the node died by itself
    ]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await chain.stop()
        for waiter in waiters:
            waiter.cancel()


def main(argv: list[str] | None = None) -> None:
    """CLI: run the dev chain until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m vilokanam.devchain", description=__doc__)
    parser.add_argument("--port", type=int, default=9944, help="0 picks a free port")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="folder with package.json")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.root.resolve(), args.port))


if __name__ == "__main__":
    main()
