"""The layout of tests/: no test module imports another (issue 11 item 5).

What two test modules share lives in tests/<package>/support/, tests/support/ or a conftest.py.
Importing a test module ties one file's tests to another's helpers (and re-collects any test
function it imports); a helper outside the test modules is one a newcomer can find.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent


def imported_names(source: str, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of everything ``source`` imports, relative imports resolved.

    ``package`` is the dotted package of the file, for relative imports. ``from a.b import c``
    gives ``a.b.c``: ``c`` may be a module.
    """
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            names += [
                (node.lineno, f"{base}.{alias.name}" if base else alias.name)
                for alias in node.names
            ]
    return names


def which_test_module(name: str) -> str | None:
    """The test module (tests.x.test_y, or a bare test_y) a dotted name passes through, if any.

    Only names under this tree's tests package or bare ones: aiohttp.test_utils is no test module.
    """
    parts = name.split(".")
    if parts[0] != "tests" and not parts[0].startswith("test_"):
        return None
    for index, part in enumerate(parts):
        if part.startswith("test_"):
            return ".".join(parts[: index + 1])
    return None


def imports_of_test_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, test module) for each import of a test module in ``source``."""
    found = {
        (line, module)
        for line, name in imported_names(source, package)
        if (module := which_test_module(name))
    }
    return sorted(found)


def test_no_file_under_tests_imports_a_test_module() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).parts[:-1])
        found += [
            f"{path.relative_to(ROOT)}:{line} imports {name}"
            for line, name in imports_of_test_modules(path.read_text(), package)
        ]
    if found:
        pytest.fail(
            "move what they share to a support/ module or a conftest.py:\n" + "\n".join(found),
            pytrace=False,
        )


@pytest.mark.parametrize(
    "source",
    [
        "from tests.signaling.test_ws import connect",
        "import tests.signaling.test_ws as ws",
        "from tests.signaling import test_ws",
        "from .test_ws import connect",
        "from . import test_ws",
        "from ..billing.test_tick import fund",
        "from test_ws import connect",
        "import test_ws",
        "def f():\n    from tests.signaling.test_ws import connect",
    ],
)
def test_every_form_of_import_of_a_test_module_is_seen(source: str) -> None:
    assert imports_of_test_modules(source, "tests.signaling")


def test_helpers_and_products_are_not_test_modules() -> None:
    source = (
        "import pytest\nfrom tests.signaling.support.accounts import new_user\n"
        "from .support import webrtc_clients\nfrom . import conftest\n"
        "from aiohttp.test_utils import TestClient\nimport signaling.testing"
    )
    assert imports_of_test_modules(source, "tests.signaling") == []
