"""The pages' money arithmetic (static/money.js, static/price_input.js) run by Node, no browser.

ROC typed by a person becomes exactly the planck Python's integer arithmetic gives (BigInt, never
floating point); a price per minute or per hour becomes planck per second rounded down, with the
rounding said; amounts are shown back exactly.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "signaling" / "web" / "static"
NODE = shutil.which("node")
ROC = 10**12

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SCRIPT = """
const base = process.argv[1];
const money = await import(`${base}/money.js`);
const prices = await import(`${base}/price_input.js`);
const token = { symbol: 'ROC', decimals: 12 };
const calls = JSON.parse(await new Promise((done) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => done(text));
}));
const run = ([name, ...args]) => {
  try {
    if (name === 'parse') return { ok: money.parseAmount(args[0], token).toString() };
    if (name === 'format') return { ok: money.formatPlanck(args[0]) };
    if (name === 'price') {
      const { planck, note } = prices.pricePerSecond(args[0], args[1], token);
      return { ok: [planck.toString(), note] };
    }
    if (name === 'describe') return { ok: money.describePrice(args[0], token) };
    if (name === 'duration') return { ok: money.describeDuration(args[0]) };
    if (name === 'covered') return { ok: money.secondsCovered(args[0], args[1]) };
  } catch (error) { return { error: error.message }; }
  return { error: `unknown call ${name}` };
};
console.log(JSON.stringify(calls.map(run)));
"""


def node(*calls: list[object]) -> list[dict]:
    """Each call's {"ok": result} or {"error": message}, from the real modules."""
    done = subprocess.run(
        [str(NODE), "--experimental-default-type=module", "--input-type=module", "-e", SCRIPT]
        + [STATIC.as_uri()],
        input=json.dumps(list(calls)),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return list(json.loads(done.stdout))


def test_roc_typed_by_a_person_is_exact_planck() -> None:
    cases = {
        "0.6": 6 * 10**11,
        "1": ROC,
        ".5": ROC // 2,
        "1,5": 3 * ROC // 2,
        " 2.25 ": 9 * ROC // 4,
        "0.000000000001": 1,
        "0.100000000000000": ROC // 10,  # zeros past the 12th decimal change nothing
        "12345678901234567890.123456789012": 12345678901234567890 * ROC + 123456789012,
        "340282366920938463463374607": 340282366920938463463374607 * ROC,
    }
    results = node(*(["parse", text] for text in cases))
    assert [r["ok"] for r in results] == [str(planck) for planck in cases.values()]


def test_what_is_not_an_amount_is_refused_with_a_sentence() -> None:
    results = node(*(["parse", t] for t in ("", "abc", "-1", "1e3", "0x10", "1.2.3")))
    assert all(r["error"] == "Enter an amount in ROC, such as 1.5." for r in results)
    [too_precise] = node(["parse", "0.0000000000001"])
    assert too_precise["error"] == "ROC has 12 decimals: use at most 12 digits after the point."


def test_random_amounts_round_trip_exactly_as_python_integers_give() -> None:
    rng = random.Random(14)
    planck = [rng.randrange(10 ** rng.randrange(1, 39)) for _ in range(200)]
    texts = [f"{p // ROC}.{p % ROC:012d}" for p in planck]
    parsed = node(*(["parse", text] for text in texts))
    assert [int(r["ok"]) for r in parsed] == planck
    shown = node(*(["format", str(p)] for p in planck))
    assert [r["ok"] for r in shown] == [
        (f"{p // ROC}.{p % ROC:012d}".rstrip("0").rstrip(".")) for p in planck
    ]


def test_a_price_per_minute_or_hour_is_stored_per_second_rounded_down_and_said() -> None:
    results = node(
        ["price", "0.6", 60],
        ["price", "36", 3600],
        ["price", "1", 60],
        ["price", "0", 3600],
        ["price", "0.000000000059", 60],
        ["price", "0.000000000060", 60],
    )
    assert results[0]["ok"] == [
        str(ROC // 100),
        "0.6 ROC/min = 0.01 ROC/s; shown as 0.6 ROC/min.",
    ]
    assert results[1]["ok"] == [
        str(ROC // 100),
        "36 ROC/h = 0.01 ROC/s; shown as 0.6 ROC/min.",
    ]
    assert results[2]["ok"] == [
        str(ROC // 60),  # 16666666666: a viewer never pays more than asked
        "1 ROC/min is not a whole number of planck per second: charged as 0.016666666666 ROC/s"
        " (rounded down), shown as 0.99999999996 ROC/min.",
    ]
    assert results[3]["ok"] == ["0", "Free: viewers watch without paying."]
    assert results[4]["error"] == (
        "0.000000000059 ROC/min is less than the smallest price, 1 planck per second"
        " (0.00000000006 ROC/min)."
    )
    assert results[5]["ok"][0] == "1"


def test_prices_and_durations_read_as_a_person_reads_them() -> None:
    results = node(
        ["describe", "1500000000"],
        ["describe", "0"],
        ["duration", 45],
        ["duration", 2460],
        ["duration", 7500],
        ["covered", str(65 * ROC // 100), str(ROC // 100)],
        ["covered", "5", "0"],
    )
    assert [r["ok"] for r in results] == [
        "0.09 ROC/min",
        "Free",
        "45 s",
        "about 41 min",
        "about 2 h 5 min",
        65,
        None,
    ]
