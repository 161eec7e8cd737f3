"""Library writes in a process of their own, at the lowest CPU priority.

A server that added a report in its own process shared the CPU, and Python's interpreter lock, with
the questions it answered: 20 readers' ask p95 was 6-7x its idle value while an editor added and
removed a report.  With each write in a child process at nice 19, the same run measured 1.1-1.3x
(eval/load.md); the editor waits about 2.5 s longer (the child starts and opens the library: 1.6 s,
then yields the CPU to the questions).  A report that would exhaust memory ends the child, not the
server.

The child is `python -m qa write` (cli.py): it reads one request (JSON) on stdin, opens the library
at the address the parent gave (Library.address), adds or removes as the CLI does, and prints one
reply: the report, or the error the engine raised (class, message, code, details), which the parent
raises again as it was.  A Milvus library writes in process: Milvus Lite serves one process per file,
and after another process's write a Milvus library reloads every report's text from the server.
"""
from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

from . import errors
from .errors import IndexStoreError, ReportQAError
from .schema import Report

NICE = 19              # the questions come first; a write takes the CPU they leave
OPS = ("add", "remove")
LAST_LINES = 40        # of the child's log, kept to say why it ended
# The child's embedding bar (encoder.py's tqdm, "Embedding:  40%|####| 2/5 [00:01<...]").
BAR = re.compile(r"\s*Embedding:\s+\d+%\|.*?\|\s*(\d+)/(\d+)\b")
# The directory holding the package, so that the child imports this same code however the server
# was started (python app.py from anywhere, an installed package, a checkout).
PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def write(address: dict, model: str | None, op: str, progress: bool = False, **args) -> Report:
    """Run one library write (`op` with its `args`) in a child process; the report added or removed.
    Raises the child's ReportQAError as it was raised there.  `progress`: the child's embedding bar
    is shown as a bar of this process (which a web page's progress follows)."""
    request = {"address": address, "model": model, "op": op, "progress": progress, "args": args}
    path = os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")) if p)
    # The child never asks a question: it needs no int8 question graph.
    env = {**os.environ, "PYTHONPATH": path, "REPORT_QA_QUERY_INT8": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "write"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", env=env)
    with contextlib.suppress(BrokenPipeError):     # a child that ended at once says why on stderr
        proc.stdin.write(json.dumps(request, ensure_ascii=False))
        proc.stdin.close()
    last, bar = collections.deque(maxlen=LAST_LINES), None
    for line in proc.stderr:     # (tqdm's "\r" ends a line here too: text mode reads universal newlines)
        done = BAR.match(line)
        if done and progress:
            bar = bar or _bar(int(done[2]))
            bar.update(int(done[1]) - bar.n)
        elif not done and line.strip():      # the child's log is the server's: a writer waiting for the lock says so
            sys.stderr.write(line)
            last.append(line.rstrip())
    out, code = proc.stdout.read(), proc.wait()
    if bar is not None:
        bar.close()
    try:
        reply = json.loads(out)
    except ValueError:
        said = last[-1] if last else "nothing"
        raise IndexStoreError(f"The library could not be changed: the process writing it ended "
                              f"({_ending(code)}: {said[:200]}); the library is as it was.",
                              code="write_failed") from None
    if "report" in reply:
        return Report(**reply["report"])
    raise _raised(reply["error"])


def _bar(total: int):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="Embedding", unit="batch", file=sys.stderr)


def serve(request: dict, open_engine: Callable[[dict, str | None], object]) -> str:
    """The child's side: do the request with the engine `open_engine(address, model)` gives, at low
    priority; the reply as JSON."""
    if hasattr(os, "nice"):
        os.nice(NICE)
    try:
        op, args = request["op"], request["args"]
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}")
        qa = open_engine(request["address"], request["model"])
        if op == "add":
            report = qa.add(args["path"], progress=bool(request.get("progress")), user=args["user"],
                            replace=args["replace"], keep_both=args["keep_both"])
        else:
            report = qa.remove(args["id"], user=args["user"])
        return json.dumps({"report": report.to_dict()}, ensure_ascii=False)
    except ReportQAError as e:
        return json.dumps({"error": {"class": type(e).__name__, "message": str(e), "code": e.code,
                                     "details": e.details}}, ensure_ascii=False, default=str)


def _raised(error: dict) -> ReportQAError:
    cls = getattr(errors, error.get("class", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, ReportQAError)):
        cls = ReportQAError
    return cls(error.get("message", ""), code=error.get("code"), **(error.get("details") or {}))


def _ending(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit code {code}"
