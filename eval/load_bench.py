"""The web app shared by a team, under load: a real app.py with --auth, real HTTP clients.

    python -m eval.load_bench                 # all three parts, ~10 min on 2 cores; --json for the raw figures
    python -m eval.load_bench --part readers  # or memory, disk

1. readers: 20 readers (20 accounts) ask, in two rounds of 15 s with nobody changing the library
   (the idle value) and 30 s while an editor adds and removes a report through the page's own events
   (60 s in all).  The rounds alternate so that other work on the shared machine weighs on both alike
   (one 30 s idle run's p95 ranged 65-275 ms with the machine's load).  Counts errors, and citations of
   a report that was not in the library at any moment of the ask (a report counts as there from the
   start of its add to the end of its removal); compares ask p95 with the idle value.  Each reader
   asks about once a second (0.5-1.5 s between questions), as people and polite scripts do: the
   per-user limit (60 a minute) never refuses them.
2. memory: 10,000 plain HTTP /ask calls (Gradio makes a session for each), the server's resident
   memory sampled every 1,000 (the server runs with --ask-limit 0 for this part).
3. disk: 200 page loads (the page's load events, as a browser runs them) and 100 uploads (every
   other one a new report, added and then removed; the others a report already there): the upload
   folder, the library and the temporary directory's report-qa files, before and after (the server
   runs with --upload-limit 0 for this part).

Each part starts its own server on a fresh copy of one library (the bundled report and jilin-2025).
The load average is read at the start and end of each part: the machine's 2 cores are shared.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx

from qa.users import Users

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "reports"
BUNDLED = ROOT / "qa" / "data" / "henan-2024-government-work-report.txt"
READERS, ROUNDS, IDLE_S, BUSY_S = 20, 2, 15, 30
MEMORY_CALLS, MEMORY_EVERY, MEMORY_THREADS = 10_000, 1_000, 4
PAGE_LOADS, UPLOADS = 200, 100
PASSWORD = "bench-password"
# Questions for the library's two reports and for the one the editor adds and removes (tibet-2025),
# so that the editor's report is cited while it is there and the check has something to check.
QUESTIONS = ["技术合同成交额增长了多少？", "2024年经济增长的预期目标是多少？", "吉林省2025年粮食产量目标是多少？",
             "城镇新增就业多少人？", "What is the 2024 economic growth target?", "西藏2025年地区生产总值增长目标是多少？",
             "西藏2025年城镇新增就业目标是多少？", "粮食产量是多少？"]
EDITED = "tibet-2025"


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else float("nan")


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def du(*paths: Path) -> int:
    return sum(p.stat().st_size for root in paths if root.exists() for p in root.rglob("*") if p.is_file())


# -- the server -----------------------------------------------------------------------------------
def build(work: Path) -> tuple[Path, Path]:
    lib, auth = work / "lib", work / "users.json"
    subprocess.run([sys.executable, "-m", "qa", "add", str(BUNDLED), str(REPORTS / "jilin-2025.txt"), "--library",
                    str(lib)], check=True, capture_output=True, cwd=ROOT)
    users = Users(auth)
    users.add("editor", "editor", PASSWORD)
    for i in range(READERS):
        users.add(f"reader{i}", "reader", PASSWORD)
    return lib, auth


@contextmanager
def server(lib: Path, auth: Path, *extra: str):
    with socket_port() as port:
        log = open(lib.parent / f"app-{port}.log", "w")
        proc = subprocess.Popen([sys.executable, "app.py", "--library", str(lib), "--auth", str(auth), "--port",
                                 str(port), *extra], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    path = Path(log.name)
    while "Ready:" not in path.read_text():
        if proc.poll() is not None:
            raise SystemExit(path.read_text())
        time.sleep(0.5)
    try:
        yield f"http://127.0.0.1:{port}", proc.pid, path
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@contextmanager
def socket_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


class Client:
    def __init__(self, url: str, user: str):
        self.url, self.c = url, httpx.Client(timeout=600)
        self.c.post(url + "/login", data={"username": user, "password": PASSWORD}).raise_for_status()
        self.deps = self.c.get(url + "/config").json()["dependencies"]

    def ask(self, question: str) -> dict:
        r = self.c.post(self.url + "/gradio_api/call/ask", json={"data": [question]})
        r.raise_for_status()
        body = self.c.get(self.url + f"/gradio_api/call/ask/{r.json()['event_id']}").text
        if "event: complete" not in body:
            raise RuntimeError(body[:300])
        return json.loads(body.split("data:", 1)[1])[0]

    def event(self, api_name: str | None, data: list, fn_index: int | None = None) -> dict:
        if fn_index is None:
            fn_index = next(d["id"] for d in self.deps if d.get("api_name") == api_name)
        session = uuid.uuid4().hex[:12]
        self.c.post(self.url + "/gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                                                               "session_hash": session}).raise_for_status()
        with self.c.stream("GET", self.url + f"/gradio_api/queue/data?session_hash={session}") as s:
            for line in s.iter_lines():
                if line.startswith("data:") and '"process_completed"' in line:
                    msg = json.loads(line[5:])
                    if not msg["success"]:
                        raise RuntimeError(str(msg)[:300])
                    return msg
        raise RuntimeError("no result")

    def add(self, path: Path) -> str:
        r = self.c.post(self.url + "/gradio_api/upload", files={"files": (path.name, path.read_bytes())})
        r.raise_for_status()
        return self.event("add_report", [{"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}, []])[
            "output"]["data"][0]

    def remove(self, rid: str) -> str:
        return self.event("remove_report", [rid, []])["output"]["data"][0]


# -- 1. readers while an editor works -----------------------------------------------------------
def readers(url: str, seconds: float, editor_loop=None) -> list[tuple]:
    """(start, end, error, reports cited) of every ask in `seconds` of 20 readers; with `editor_loop`,
    also the times the editor's report was (maybe) in the library."""
    clients = [Client(url, f"reader{i}") for i in range(READERS)]
    stop, asks, lock = threading.Event(), [], threading.Lock()
    present: list[list[float]] = []

    def reader(c: Client, seed: int):
        rnd = random.Random(seed)
        stop.wait(rnd.uniform(0, 1))      # readers come in one by one, not all in the same millisecond
        while not stop.is_set():
            q = rnd.choice(QUESTIONS)
            t0 = time.monotonic()
            try:
                a = c.ask(q)
                error = a.get("error")
                cited = {x["report"] for x in a.get("citations", [])} | {o["report"] for o in a.get("others", [])
                                                                          if o.get("found")}
            except Exception as e:       # any failed request is an error of the run
                error, cited = f"{type(e).__name__}: {e}", set()
            with lock:
                asks.append((t0, time.monotonic(), error, cited))
            stop.wait(rnd.uniform(0.5, 1.5))

    threads = [threading.Thread(target=reader, args=(c, i)) for i, c in enumerate(clients)]
    load0, t_start = load_average(), time.monotonic()
    for t in threads:
        t.start()
    editor = threading.Thread(target=editor_loop, args=(stop, present)) if editor_loop else None
    if editor:
        editor.start()
    time.sleep(seconds)
    stop.set()
    for t in threads + ([editor] if editor else []):
        t.join()
    return asks, present, {"seconds": time.monotonic() - t_start, "load_average": [load0, load_average()]}


def summary(runs: list) -> dict:
    asks = [a for r in runs for a in r[0]]
    present = [p for r in runs for p in r[1]]
    lat = [(e - s) * 1000 for s, e, _, _ in asks]
    wrong = [a for a in asks if EDITED in a[3] and not any(p[0] <= a[1] and a[0] <= p[1] for p in present)]
    waits = [p[2:] for p in present if len(p) == 4]
    return {"asks": len(asks), "errors": sum(1 for a in asks if a[2]), "error_examples": [a[2] for a in asks if a[2]][:3],
            "cited_edited": sum(1 for a in asks if EDITED in a[3]), "wrong_citations": len(wrong),
            "p50_ms": statistics.median(lat), "p95_ms": percentile(lat, 0.95), "edits": len(present),
            "add_s": statistics.median([w[0] for w in waits]) if waits else None,
            "remove_s": statistics.median([w[1] for w in waits]) if waits else None,
            "seconds": sum(r[2]["seconds"] for r in runs), "load_average": [r[2]["load_average"] for r in runs]}


def editor_loop(url: str):
    def run(stop: threading.Event, present: list):
        c = Client(url, "editor")
        path = REPORTS / f"{EDITED}.txt"
        while not stop.is_set():
            present.append([time.monotonic(), float("inf")])      # there, at the latest, once the add returns
            said = c.add(path)
            assert EDITED in said and "Added" in said, said
            added = time.monotonic()
            stop.wait(3)
            removing = time.monotonic()
            said = c.remove(EDITED)
            assert "Removed" in said, said
            present[-1][1] = time.monotonic()                      # gone, at the latest, once the remove returns
            present[-1] += [added - present[-1][0], present[-1][1] - removing]    # how long the editor waited
            stop.wait(3)
    return run


def part_readers(lib: Path, auth: Path) -> dict:
    with server(lib, auth) as (url, pid, log):
        Client(url, "reader0").ask(QUESTIONS[0])                      # warm
        idle, busy = [], []
        for _ in range(ROUNDS):
            idle.append(readers(url, IDLE_S))
            busy.append(readers(url, BUSY_S, editor_loop(url)))
        idle, busy = summary(idle), summary(busy)
        busy["p95_vs_idle"] = busy["p95_ms"] / idle["p95_ms"]
        busy["tracebacks"] = log.read_text().count("Traceback")
    return {"idle": idle, "with_editor": busy}


# -- 2. memory over 10,000 API calls -------------------------------------------------------------
def part_memory(lib: Path, auth: Path) -> dict:
    with server(lib, auth, "--ask-limit", "0") as (url, pid, log):
        clients = [Client(url, f"reader{i}") for i in range(MEMORY_THREADS)]
        clients[0].ask(QUESTIONS[0])
        samples, load0, errors = [(0, rss_mb(pid))], load_average(), 0
        done = 0
        while done < MEMORY_CALLS:
            def batch(c: Client, n: int, seed: int):
                nonlocal errors
                rnd = random.Random(seed)
                for _ in range(n):
                    try:
                        c.ask(rnd.choice(QUESTIONS))
                    except Exception:
                        errors += 1
            per = MEMORY_EVERY // MEMORY_THREADS
            threads = [threading.Thread(target=batch, args=(c, per, done + i)) for i, c in enumerate(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            done += per * MEMORY_THREADS
            samples.append((done, rss_mb(pid)))
    after_1k = [mb for n, mb in samples if n >= MEMORY_EVERY]
    return {"samples_mb": samples, "errors": errors, "load_average": [load0, load_average()],
            "change_from_start": samples[-1][1] / samples[0][1] - 1,
            "spread_after_1000": max(after_1k) / min(after_1k) - 1}


# -- 3. disk over page loads and uploads ----------------------------------------------------------
def part_disk(lib: Path, auth: Path) -> dict:
    part = lib.parent / "hebei-2025.txt"            # the first paragraphs of a report the library lacks
    lines = (REPORTS / "hebei-2025.txt").read_text(encoding="utf-8").splitlines()
    part.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    with server(lib, auth, "--upload-limit", "0") as (url, pid, log):      # 100 uploads in minutes
        folder = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir()) / "report-qa-uploads" / str(pid)
        temp = [p for p in Path(tempfile.gettempdir()).glob("report-qa-*") if p.is_dir() and "uploads" not in p.name]

        def disk() -> dict:
            return {"uploads": du(folder), "library": du(lib), "temp_report_qa": du(*temp)}

        before, load0, t0 = disk(), load_average(), time.monotonic()
        editor = Client(url, "editor")
        loads = [d["id"] for d in editor.deps if any(t[1] == "load" for t in d["targets"]) and d.get("backend_fn")]
        for _ in range(PAGE_LOADS):
            editor.c.get(url + "/")
            for fn in loads:
                dep = next(d for d in editor.deps if d["id"] == fn)
                editor.event(None, [None] * len(dep["inputs"]), fn_index=fn)
        after_loads = disk()
        for i in range(UPLOADS):
            if i % 2:
                assert "Already there" in editor.add(BUNDLED)
            else:
                said = editor.add(part)
                assert "Added" in said, said
                rid = re.search(r"\(([a-z0-9-]+)\)", said).group(1)
                assert "Removed" in editor.remove(rid)
        after = disk()
    return {"before": before, "after_page_loads": after_loads, "after_uploads": after,
            "seconds": time.monotonic() - t0, "load_average": [load0, load_average()]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.load_bench", description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=["readers", "memory", "disk"], action="append")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    parts = {"readers": part_readers, "memory": part_memory, "disk": part_disk}
    work = Path(tempfile.mkdtemp(prefix="load-bench-"))
    try:
        lib, auth = build(work)
        out = {}
        for name in a.part or list(parts):
            copy = work / f"lib-{name}"
            shutil.copytree(lib, copy)
            out[name] = parts[name](copy, auth)
            print(f"{name}: {json.dumps(out[name], ensure_ascii=False)}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (ROOT / "eval" / "out").mkdir(exist_ok=True)
    (ROOT / "eval" / "out" / "load_bench.json").write_text(json.dumps(out, indent=1, ensure_ascii=False))
    print(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
