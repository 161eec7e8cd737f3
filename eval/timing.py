"""Timing helpers shared by the benchmarks: percentiles, medians with spreads, child processes."""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 5


def pct(xs, q: float) -> float:
    """Nearest-rank percentile, as eval/run.py computes p95."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def spread(values) -> dict:
    """Median and min-max of per-run figures."""
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def fmt(s: dict, unit: str = "", digits: int = 1) -> str:
    if not s:
        return "—"
    f = f"{{:.{digits}f}}"
    if s["runs"] == 1:
        return f.format(s["median"]) + unit
    return f"{f.format(s['median'])}{unit} ({f.format(s['min'])}–{f.format(s['max'])})"


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _status(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib() -> float:
    """Current resident set size."""
    return _status("VmRSS:")


def peak_rss_mib() -> float:
    """High-water RSS of this process image (VmHWM; ru_maxrss would carry the parent's over exec)."""
    peak = _status("VmHWM:")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def version(name: str) -> str:
    import importlib.metadata
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def child(role: str, *args: str, env: dict | None = None, timeout: int = 3600) -> dict:
    """Run this script in a fresh process in `role`; its last stdout line is JSON."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "eval.bench", "--child", role, *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child {role} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["spawn_time"], out["wall_s"] = t0, wall
    return out


def say(*a) -> None:
    print(*a, flush=True, file=sys.stderr)


@contextmanager
def environ(**values):
    """Environment variables set for the duration (ReportQA.load reads the switches)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def latencies(f, questions: list) -> list[float]:
    out = []
    for q in questions:
        t0 = time.perf_counter()
        f(q)
        out.append(ms(t0))
    return out


def summarise_runs(per_run: dict[str, list[list[float]]]) -> dict:
    """Per variant: p50, p95 and mean of each run, as medians with spreads."""
    return {name: {"p50": spread([statistics.median(r) for r in runs]),
                   "p95": spread([pct(r, 0.95) for r in runs]),
                   "mean": spread([statistics.mean(r) for r in runs])} for name, runs in per_run.items()}


def interleaved(variants: dict, questions: list, runs: int, before=None, around=None) -> dict:
    """Each variant over every question, variant after variant within each run; `before(name)` is
    called before a variant's run, `around(name)` (a context manager) wraps it."""
    for f in variants.values():
        for q in questions[:WARMUP]:
            f(q)
    per_run = {name: [] for name in variants}
    for _ in range(runs):
        for name, f in variants.items():
            if before:
                before(name)
            with around(name) if around else nullcontext():
                per_run[name].append(latencies(f, questions))
    return summarise_runs(per_run)


@contextmanager
def busy_core(on: bool = True):
    """Another process spinning on one core while the block runs (when `on`): a shared machine."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        time.sleep(0.2 * on)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
