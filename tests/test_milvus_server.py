"""The library on a Milvus server over gRPC, the route a cluster takes: `milvus-lite server` on a free
local port, REPORT_QA_STORE=http://127.0.0.1:PORT, the CLI in processes of its own and an engine in
this one; a server that is down, and one that refuses the token (tests/milvus_auth_server.py)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed: pip install -e \".[milvus]\"")
pytest.importorskip("milvus_lite", reason="the milvus extra is not installed: pip install -e \".[milvus]\"")

from qa import ReportQA                                      # noqa: E402
from qa.errors import IndexStoreError, ReportError           # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = "server_test"
TECH = "技术合同成交额增长了多少？"
# A library change made by one process is seen by another within a second (the generation is looked
# at once a second); this allows for a busy machine.
SEEN_WITHIN = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(cmd: list[str], port: int, log: Path) -> subprocess.Popen:
    """Start a server and wait until its port takes connections."""
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server ended: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not listen in time")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`milvus-lite server` as a user starts it; its address."""
    exe = shutil.which("milvus-lite")
    if exe is None:
        pytest.skip("milvus-lite's command is not on the PATH: pip install -e \".[milvus]\"")
    tmp, port = tmp_path_factory.mktemp("milvus-server"), _free_port()
    proc = _serve([exe, "server", "--data-dir", str(tmp / "data"), "--host", "127.0.0.1", "--port", str(port)],
                  port, tmp / "server.log")
    yield f"http://127.0.0.1:{port}"
    _stop(proc)


def _cli(store: str, *args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m qa ARGS --library server_test` with REPORT_QA_STORE pointing at the server."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MILVUS_")}   # only the test's credentials
    environ.update({"REPORT_QA_STORE": store, **(env or {})})
    return subprocess.run([sys.executable, "-m", "qa", *args, "--library", LIBRARY], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=environ)


def _one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout[-1000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.stderr[-2000:]
    return lines[0]


def test_add_ask_remove_over_grpc_seen_by_another_process(server, small_report, jilin_part):
    added = _cli(server, "add", str(small_report), str(jilin_part))
    assert added.returncode == 0, added.stderr[-3000:]
    assert [ln.split()[0] for ln in added.stdout.splitlines()] == ["henan-2024", "jilin-2025"]

    asked = _cli(server, "ask", TECH, "--report", "henan-2024", "--json")
    assert asked.returncode == 0, asked.stderr[-3000:]
    answer = json.loads(asked.stdout)
    assert answer["found"] and "33.4%" in answer["text"] and answer["report"] == "henan-2024"

    # This process: an engine on the same server library, as a web worker would hold one.
    qa = ReportQA.load(library=LIBRARY, store=server, progress=False)
    assert [r.id for r in qa.reports()] == ["henan-2024", "jilin-2025"]
    assert qa.ask(TECH, report="henan-2024").text == answer["text"]
    assert qa.ask("粮食总产量是多少？", report="jilin-2025").passages[0].report == "jilin-2025"

    removed = _cli(server, "remove", "jilin-2025")
    assert removed.returncode == 0 and removed.stdout.startswith("Removed jilin-2025"), removed.stderr[-2000:]
    deadline = time.monotonic() + SEEN_WITHIN
    while True:
        try:
            qa.ask("粮食总产量是多少？", report="jilin-2025")
        except ReportError as e:          # the other process's removal has been seen
            assert "jilin-2025" in str(e)
            break
        assert time.monotonic() < deadline, "the removal was not seen by the other process"
        time.sleep(0.5)
    assert [r.id for r in qa.reports()] == ["henan-2024"]
    listed = _cli(server, "list", "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == ["henan-2024"]


def test_a_server_that_is_down_is_one_line_without_the_token(tmp_path):
    port = _free_port()
    proc = _serve([shutil.which("milvus-lite") or "milvus-lite", "server", "--data-dir", str(tmp_path / "data"),
                   "--host", "127.0.0.1", "--port", str(port)], port, tmp_path / "server.log")
    store = f"http://127.0.0.1:{port}"
    assert _cli(store, "list").returncode == 0
    _stop(proc)
    t0 = time.monotonic()
    r = _cli(store, "list", env={"MILVUS_TOKEN": "root:s3cret-token"})
    line = _one_line_error(r)
    assert line.startswith(f"error: Cannot reach Milvus at {store}") and "s3cret" not in r.stderr
    assert time.monotonic() - t0 < 60, "a down server is said at once, not after minutes of retries"
    with pytest.raises(IndexStoreError, match=f"Cannot reach Milvus at {store}"):
        ReportQA.load(library=LIBRARY, store=store, progress=False)


def test_a_wrong_token_is_refused_in_one_line_and_the_right_one_works(tmp_path):
    port, token = _free_port(), "root:right-token"
    proc = _serve([sys.executable, str(ROOT / "tests" / "milvus_auth_server.py"), str(tmp_path / "data"), str(port),
                   token], port, tmp_path / "server.log")
    store = f"http://127.0.0.1:{port}"
    try:
        r = _cli(store, "list", env={"MILVUS_TOKEN": "root:wrong-token"})
        line = _one_line_error(r)
        assert store in line and "auth" in line and "wrong-token" not in r.stderr, line
        ok = _cli(store, "list", env={"MILVUS_TOKEN": token})
        assert ok.returncode == 0 and "has no reports" in ok.stdout, ok.stderr[-2000:]
    finally:
        _stop(proc)
