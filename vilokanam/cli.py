"""The `vilokanam` command: run, node, cluster, migrate, dev-login, dev-topup, workers and money
checks."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from vilokanam.logs import configure_logging
from vilokanam.settings import Settings, SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vilokanam", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run", help="start WORKERS nodes on this machine (and missing local services), supervised"
    )
    commands.add_parser(
        "node", help="serve one node that joins a cluster (needs DATABASE_URL and REDIS_URL)"
    )
    commands.add_parser("cluster", help="print the living nodes and their streams as JSON")
    commands.add_parser("migrate", help="apply pending database migrations")
    login = commands.add_parser(
        "dev-login", help="dev only: sign in as a dev account and print a session token"
    )
    login.add_argument("uri", help="dev key URI such as //Alice or //Bob")
    login.add_argument("--url", help="server base URL (default: PUBLIC_URL or HTTP_HOST:PORT)")
    topup = commands.add_parser(
        "dev-topup", help="dev only: a dev account deposits to the escrow; waits for the credit"
    )
    topup.add_argument("uri", help="dev key URI such as //Bob")
    topup.add_argument("amount", help="in the chain's unit (ROC on the dev chain), e.g. 25 or 0.5")
    topup.add_argument("--url", help="server base URL (default: PUBLIC_URL or HTTP_HOST:PORT)")
    worker = commands.add_parser("worker", help="run one background role in this process")
    worker.add_argument("role", choices=["settlement", "payouts", "deposits", "vod"])
    worker.add_argument("--name", default=None, help="stable consumer name (default: role-1)")
    commands.add_parser(
        "reconcile", help="check that money adds up across Redis, PostgreSQL and the chain"
    )
    parked = commands.add_parser(
        "parked", help="hand a parked billing item back to its loop, or mark it resolved by hand"
    )
    parked.add_argument("action", choices=["retry", "resolve"])
    parked.add_argument("kind", choices=["deposit", "payout", "settlement"])
    parked.add_argument("ref", help="the item's id as `vilokanam reconcile` lists it")
    parked.add_argument("note", nargs="?", default="", help="resolve: what was done by hand")
    grant = commands.add_parser("grant", help="make an existing user a moderator or an admin")
    grant.add_argument("role", choices=["moderator", "admin"])
    grant.add_argument("address", help="the user's SS58 address (any network prefix)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"vilokanam: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json=not sys.stderr.isatty())
    handler = {
        "run": _run,
        "node": _node,
        "cluster": _cluster,
        "migrate": _migrate,
        "dev-login": _dev_login,
        "dev-topup": _dev_topup,
        "worker": _worker,
        "reconcile": _reconcile,
        "grant": _grant,
        "parked": _parked,
    }[args.command]
    try:
        return handler(settings, args)
    except SettingsError as exc:
        print(f"vilokanam: {exc}", file=sys.stderr)
        return 2


def _run(settings: Settings, _args: argparse.Namespace) -> int:
    from vilokanam.supervisor import run_cluster

    try:
        asyncio.run(run_cluster(settings))
    except KeyboardInterrupt:
        pass
    return 0


def _node(settings: Settings, _args: argparse.Namespace) -> int:
    from vilokanam.server import joining_urls, serve_node

    urls = joining_urls(settings)
    try:
        asyncio.run(serve_node(settings, urls))
    except KeyboardInterrupt:
        pass
    return 0


def _cluster(settings: Settings, _args: argparse.Namespace) -> int:
    from vilokanam.workers import cluster_overview

    print(json.dumps(asyncio.run(cluster_overview(settings)), indent=2))
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from vilokanam.migrate import migrate

    if not settings.database_url:
        print(
            "vilokanam: migrate needs DATABASE_URL (`vilokanam run` migrates the embedded "
            "database itself)",
            file=sys.stderr,
        )
        return 2
    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied {len(applied)} migration(s)" if applied else "database is up to date")
    return 0


def _dev_topup(settings: Settings, args: argparse.Namespace) -> int:
    from vilokanam.devtopup import DevLoginError, DevTopUpError, dev_topup, format_units

    if not settings.is_dev:
        print("vilokanam: dev-topup is disabled outside dev mode", file=sys.stderr)
        return 2
    try:
        done = asyncio.run(
            dev_topup(args.url or settings.base_url, args.uri, args.amount, _to_stderr)
        )
    except (DevLoginError, DevTopUpError) as exc:
        print(f"vilokanam: {exc}", file=sys.stderr)
        return 1
    unit = f" {done.symbol}"
    print(
        f"credited {format_units(done.planck, done.decimals)}{unit} to {done.address}; "
        f"balance {format_units(done.balance, done.decimals)}{unit}"
    )
    return 0


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _dev_login(settings: Settings, args: argparse.Namespace) -> int:
    from vilokanam.devlogin import DevLoginError, dev_login

    if not settings.is_dev:
        print("vilokanam: dev-login is disabled outside dev mode", file=sys.stderr)
        return 2
    try:
        token = asyncio.run(dev_login(args.url or settings.base_url, args.uri))
    except DevLoginError as exc:
        print(f"vilokanam: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from vilokanam.workers import run_worker

    asyncio.run(run_worker(settings, args.role, args.name or f"{args.role}-1"))
    return 0


def _reconcile(settings: Settings, _args: argparse.Namespace) -> int:
    from vilokanam.workers import run_reconcile

    report = asyncio.run(run_reconcile(settings))
    print(report.text())
    return 0 if report.ok else 1


def _parked(settings: Settings, args: argparse.Namespace) -> int:
    from vilokanam.workers import handle_parked

    if args.action == "resolve" and not args.note.strip():
        print("vilokanam: resolve needs a note saying what was done", file=sys.stderr)
        return 2
    if not asyncio.run(handle_parked(settings, args.action, args.kind, args.ref, args.note)):
        print(f"vilokanam: no open parked {args.kind} {args.ref}", file=sys.stderr)
        return 1
    done = "handed back to its loop" if args.action == "retry" else "resolved"
    print(f"{args.kind} {args.ref}: {done}")
    return 0


def _grant(settings: Settings, args: argparse.Namespace) -> int:
    from signaling.auth.roles import grant_address

    if not settings.database_url:
        print("vilokanam: grant needs DATABASE_URL", file=sys.stderr)
        return 2
    try:
        account = asyncio.run(grant_address(settings.database_url, args.address, args.role))
    except ValueError as exc:
        print(f"vilokanam: {exc}", file=sys.stderr)
        return 2
    if account is None:
        print(
            f"vilokanam: no user with address {args.address}; they must sign in once first",
            file=sys.stderr,
        )
        return 1
    print(f"{account} is now {args.role}")
    return 0
