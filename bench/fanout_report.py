"""Figures of bench/sfu_fanout.py: one row per step of N viewers, the verdict, native/python."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

MIN_FRAMES_PCT = 95.0  # issue 13: frames received by viewers / frames sent
MAX_P95_MS = 100.0  # issue 13: p95 added delay
KEYFRAME_PACKETS = 20  # frames of at least this many packets are keyframes (delta frames: ~4)
GENERATOR_BUSY_PCT = 90.0  # core 1 this busy: the load generator, not the server, may limit


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Window:
    """What was measured over one window at one step (CPU in seconds, memory in KiB)."""

    mode: str
    viewers: int
    seconds: float
    server_cpu: float
    server_sys: float
    server_wait: float  # runnable but not running: the core was busy with something else
    server_rss_kb: int
    generator_cpu: float  # publisher + viewer processes
    core0_busy: float  # every process on the server's core
    core1_busy: float  # every process on the generator's core
    frames_sent: int  # by the publisher
    frames: list[int]  # per viewer
    joins: list[float]  # per viewer, join -> first frame, s
    disconnected: int  # viewers whose peer connection is not connected at the window's end
    delays: list[tuple[float, float, int]]  # per frame: at socket s, in viewer s, packets


@dataclass
class Row:
    mode: str
    viewers: int
    disconnected: int
    cpu: float  # % of a core
    cpu_sys: float
    cpu_wait: float  # % of the window the server waited for its core
    cpu_per_viewer: float  # % of a core, above the 0-viewer step
    rss_mb: float
    kb_per_viewer: float  # RSS growth since the 0-viewer step / viewers
    frames_pct: float  # mean over viewers
    worst_pct: float
    p50_ms: float  # added delay at the viewer socket
    p95_ms: float
    max_ms: float
    p95_in_viewer_ms: float
    keyframe_p95_ms: float
    join_p50_ms: float
    generator: float  # % of a core used by publisher + viewers
    core1: float  # % of core 1 busy (all processes)
    others: float  # % of core 0 used by other processes

    @property
    def ok(self) -> bool:
        return self.frames_pct >= MIN_FRAMES_PCT and self.p95_ms < MAX_P95_MS

    @property
    def generator_bound(self) -> bool:
        return self.core1 >= GENERATOR_BUSY_PCT


def row_of(window: Window, base: Window | None) -> Row:
    """Figures of ``window``; per-viewer CPU and memory are counted above ``base`` (0 viewers)."""
    pct = 100 / window.seconds
    cpu = pct * window.server_cpu
    base_cpu = 100 * base.server_cpu / base.seconds if base else 0.0
    base_rss = base.server_rss_kb if base else window.server_rss_kb
    n = max(window.viewers, 1)
    expected = max(window.frames_sent, 1)
    at_socket = [d[0] * 1000 for d in window.delays]
    keyframes = [d[0] * 1000 for d in window.delays if d[2] >= KEYFRAME_PACKETS]
    return Row(
        mode=window.mode,
        viewers=window.viewers,
        disconnected=window.disconnected,
        cpu=cpu,
        cpu_sys=pct * window.server_sys,
        cpu_wait=pct * window.server_wait,
        cpu_per_viewer=(cpu - base_cpu) / n,
        rss_mb=window.server_rss_kb / 1024,
        kb_per_viewer=(window.server_rss_kb - base_rss) / n,
        frames_pct=100 * statistics.mean(window.frames) / expected if window.frames else 100.0,
        worst_pct=100 * min(window.frames) / expected if window.frames else 100.0,
        p50_ms=percentile(at_socket, 0.5),
        p95_ms=percentile(at_socket, 0.95),
        max_ms=max(at_socket, default=float("nan")),
        p95_in_viewer_ms=percentile([d[1] * 1000 for d in window.delays], 0.95),
        keyframe_p95_ms=percentile(keyframes, 0.95),
        join_p50_ms=1000 * percentile(window.joins, 0.5),
        generator=pct * window.generator_cpu,
        core1=pct * window.core1_busy,
        others=max(0.0, pct * (window.core0_busy - window.server_cpu)),
    )


HEADER = (
    "| mode | viewers (not connected) | server CPU % (kernel) | waited for core % "
    "| CPU/viewer % | RSS MB | KB/viewer "
    "| frames % (worst) | delay p50/p95/max ms | p95 in viewer ms | keyframe p95 ms "
    "| join p50 ms | generator CPU % | core 1 busy % | core 0 others % | verdict |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: Row) -> str:
    if row.viewers == 0:
        verdict, per_viewer = "base", "–"
    else:
        verdict = "ok" if row.ok else "over"
        verdict += ", core 1 full" if row.generator_bound else ""
        per_viewer = f"{row.cpu_per_viewer:.3f}"
    delays = "/".join(_ms(x) for x in (row.p50_ms, row.p95_ms, row.max_ms))
    return (
        f"| {row.mode} | {row.viewers} ({row.disconnected}) | "
        f"{row.cpu:.1f} ({row.cpu_sys:.1f}) | {row.cpu_wait:.0f} | {per_viewer} | "
        f"{row.rss_mb:.0f} | {row.kb_per_viewer:.0f} | "
        f"{row.frames_pct:.1f} ({row.worst_pct:.0f}) | {delays} | {_ms(row.p95_in_viewer_ms)} | "
        f"{_ms(row.keyframe_p95_ms)} | {_ms(row.join_p50_ms)} | {row.generator:.0f} | "
        f"{row.core1:.0f} | {row.others:.0f} | {verdict} |"
    )


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def best_step(rows: list[Row]) -> Row | None:
    """The largest step that met both thresholds."""
    good = [r for r in rows if r.viewers and r.ok]
    return max(good, key=lambda r: r.viewers) if good else None


def mode_summary(mode: str, rows: list[Row]) -> str:
    best = best_step(rows)
    if best is None:
        return f"{mode}: no step met >= {MIN_FRAMES_PCT:.0f}% frames with p95 < {MAX_P95_MS:.0f} ms"
    per_core = 100 / best.cpu_per_viewer if best.cpu_per_viewer > 0 else float("inf")
    limit = " (core 1 was full: the generator may be the limit)" if best.generator_bound else ""
    generator = best.generator / best.viewers
    return (
        f"{mode}: {best.viewers} viewers held at {best.frames_pct:.1f}% frames, p95 "
        f"{best.p95_ms:.0f} ms, server {best.cpu:.0f}% of a core{limit}; CPU per viewer "
        f"{best.cpu_per_viewer:.3f}% -> ~{per_core:.0f} viewers per core by that figure; "
        f"{best.viewers * 100 / max(best.cpu, 1e-6):.0f} per core counting the whole process; "
        f"memory {best.kb_per_viewer:.0f} KB per viewer; the generator's own CPU "
        f"{generator:.3f}% per viewer -> it fills core 1 alone at ~{100 / generator:.0f} viewers"
    )


RATIO_FIGURES = (
    ("CPU/viewer", "cpu_per_viewer"),
    ("server CPU", "cpu"),
    ("KB/viewer", "kb_per_viewer"),
    ("frames %", "frames_pct"),
    ("p95 delay", "p95_ms"),
)


def ratio_table(native: list[Row], python: list[Row]) -> str:
    """native / python per figure, for every step both modes measured."""
    by_n = {r.viewers: r for r in python if r.viewers}
    lines = [
        "| viewers | " + " | ".join(name for name, _ in RATIO_FIGURES) + " | note |",
        "|---|" + "---|" * (len(RATIO_FIGURES) + 1),
    ]
    for row in native:
        other = by_n.get(row.viewers)
        if other is None:
            continue
        cells = [_ratio(getattr(row, attr), getattr(other, attr)) for _, attr in RATIO_FIGURES]
        lines.append(f"| {row.viewers} | " + " | ".join(cells) + f" | {_note(row, other)} |")
    return "\n".join(lines)


def _note(native: Row, python: Row) -> str:
    """CPU is comparable only while both modes did the whole work (no frames lost)."""
    short = [r.mode for r in (native, python) if r.frames_pct < MIN_FRAMES_PCT]
    return f"{' and '.join(short)} lost frames: CPU not comparable" if short else ""


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "–"
