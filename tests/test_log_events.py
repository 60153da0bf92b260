"""One log-event style in product code: `logger.<level>("area_event", key=value...)`.

The event is a constant snake_case name whose first word is the package or subsystem (sfu, tick,
settlement, chain, recorder, vod, devchain, server...); everything variable goes in key-value
fields, so log queries can match events exactly and no value hides inside the event string.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_PACKAGES = ("sfu", "billing", "recorder", "signaling", "vilokanam")
# Empty since signaling/'s events were renamed (issue 11 item 6); kept for a package mid-rename.
PACKAGES_AWAITING_EVENT_RENAME: tuple[str, ...] = ()

EVENT_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
_LEVELS = ("debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "msg")
LEVELS = frozenset(_LEVELS) | {f"a{level}" for level in _LEVELS}  # structlog's async ainfo...
LOGGER_FACTORIES = frozenset({"get_logger", "getLogger", "bind", "new", "unbind", "try_unbind"})


def _terminal_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _logger_names(tree: ast.Module) -> set[str]:
    """Names bound to a logger here: `x = structlog.get_logger()`, `x = logger.bind(...)`."""
    names = {"logging"}  # the stdlib module's own logging.info(...) functions
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AnnAssign) or not isinstance(node.value, ast.Call):
            continue
        if _terminal_name(node.value.func) not in LOGGER_FACTORIES:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names.update(name for target in targets if (name := _terminal_name(target)))
    return names


def _log_calls(tree: ast.Module) -> Iterator[ast.Call]:
    loggers = _logger_names(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LEVELS
            and _terminal_name(node.func.value) in loggers
        ):
            yield node


def _problem(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else None
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return "event is not a string literal"
    if not EVENT_NAME.match(first.value):
        return f"event {first.value!r} is not area_event snake_case"
    return None


def _checked_files() -> Iterator[Path]:
    for package in PRODUCT_PACKAGES:
        if package not in PACKAGES_AWAITING_EVENT_RENAME:
            yield from sorted((ROOT / package).rglob("*.py"))


def test_log_events_are_area_event_snake_case() -> None:
    problems, checked = [], 0
    for path in _checked_files():
        for call in _log_calls(ast.parse(path.read_text(), filename=str(path))):
            checked += 1
            if problem := _problem(call):
                problems.append(f"{path.relative_to(ROOT)}:{call.lineno}: {problem}")
    assert checked > 50, "the walk no longer finds the product's log calls"
    assert not problems, "\n".join(sorted(problems))


def test_the_walk_recognises_loggers_and_bad_events() -> None:
    source = (
        "import logging, structlog\n"
        "logger = structlog.get_logger(__name__)\n"
        "def f(job, error):\n"
        "    log = logger.bind(job=job)\n"
        "    logger.info('vod_job_done', job=job)\n"
        "    log.warning(f'job {job} failed')\n"
        "    logging.error('Chain lost')\n"
        "    logger.exception(error)\n"
        "    task.exception()\n"
    )
    calls = sorted(_log_calls(ast.parse(source)), key=lambda call: call.lineno)
    assert [_problem(call) for call in calls] == [
        None,
        "event is not a string literal",
        "event 'Chain lost' is not area_event snake_case",
        "event is not a string literal",
    ]
