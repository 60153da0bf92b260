"""No product module over 400 lines (issue 11): one that grows past it is split by what it does."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("sfu", "billing", "recorder", "signaling", "vilokanam")
MAX_LINES = 400


def line_counts() -> dict[str, int]:
    """Lines (as `wc -l` counts them) of every Python module of the product packages."""
    return {
        str(path.relative_to(ROOT)): path.read_bytes().count(b"\n")
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def test_the_product_packages_are_found() -> None:
    counts = line_counts()
    for package in PRODUCT:
        assert f"{package}/__init__.py" in counts


def test_no_product_module_is_over_400_lines() -> None:
    over = {path: n for path, n in line_counts().items() if n > MAX_LINES}
    assert not over, f"split these by responsibility (limit {MAX_LINES} lines): {over}"
