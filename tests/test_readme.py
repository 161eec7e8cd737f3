"""Every example in README.md runs as printed, from the root of a copy of the repository.

How examples are found, checked and marked (not run, with the server, slow) is said at the top of
tests/readme.py; a new ```console, ```bash or ```python block in the README is a new test here.  The
examples run in the README's order in one working directory (a later one may use the library an
earlier one made), with the model cache of this machine and nothing else from outside the copy.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme import SERVER, examples, matches, shown

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [ex for ex in examples((ROOT / "README.md").read_text(encoding="utf-8")) if ex.mark != "not run"]
SLOW = os.environ.get("REPORT_QA_README_SLOW") == "1"
TIMEOUT = 900          # s, one command or block: the slowest adds a library of 32 reports


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A copy of the repository's files (as git knows them), as a fresh clone has them."""
    dest = tmp_path_factory.mktemp("readme") / "report-qa"
    # Tracked files and new ones not ignored: the working tree as a clone of it would be once committed.
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def env() -> dict:
    """This environment without anything that would point the examples elsewhere."""
    drop = ("PYTHONPATH", "REPORT_QA_LIBRARY", "REPORT_QA_INDEX", "REPORT_QA_STORE")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("MILVUS_")}


@pytest.fixture(scope="module")
def server(repo, env):
    """`python app.py` on a free port, started for the first example that needs it; its address."""
    started = {}

    def address() -> str:
        if not started:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=repo, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in proc.stdout:
                if line.startswith("Ready:"):
                    break
            else:
                raise RuntimeError("app.py ended before it was ready")
            started.update(proc=proc, address=f"127.0.0.1:{port}")
        return started["address"]

    yield address
    if started:
        started["proc"].send_signal(signal.SIGINT)
        try:
            started["proc"].wait(timeout=30)
        except subprocess.TimeoutExpired:
            started["proc"].kill()


def _run(args: list[str], repo: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.parametrize("ex", EXAMPLES, ids=[f"README line {ex.line} ({ex.lang})" for ex in EXAMPLES])
def test_the_readme_example_runs_as_printed(ex, repo, env, server, tmp_path):
    if ex.mark == "slow" and not SLOW:
        pytest.skip(f"slow ({ex.why}); REPORT_QA_README_SLOW=1 runs it")
    text = ex.text.replace(SERVER, server()) if ex.mark == "server" else ex.text
    if ex.lang == "console":
        for command, expected in ex.commands:
            if ex.mark == "server":
                command = command.replace(SERVER, server())
            r = _run(["bash", "-c", command], repo, env)
            fails = any(ln.startswith("error:") for ln in expected)
            assert (r.returncode == 2) if fails else (r.returncode == 0), \
                f"$ {command}\nexit status {r.returncode}\n{r.stderr[-3000:]}"
            actual = shown(r.stdout, r.stderr)
            assert matches(expected, actual), \
                f"$ {command}\nthe README shows:\n" + "\n".join(expected) + "\nit printed:\n" + "\n".join(actual)
    elif ex.lang == "bash":
        r = _run(["bash", "-c", "set -euo pipefail\n" + text], repo, env)
        assert r.returncode == 0, f"{text}\nexit status {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    else:
        script = tmp_path / "example.py"
        script.write_text(text, encoding="utf-8")
        r = _run([sys.executable, "-c", "import sys; from tests.readme import run_python; "
                  "run_python(open(sys.argv[1], encoding='utf-8').read())", str(script)], repo, env)
        assert r.returncode == 0, f"README line {ex.line}:\n{r.stderr[-3000:]}"


def test_examples_are_found_and_marked():
    """The extraction sees the README's examples, and every mark says why when it must."""
    every = examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert sum(ex.lang == "console" for ex in every) >= 5 and any(ex.lang == "python" for ex in every)
    assert all(ex.why for ex in every if ex.mark in ("not run", "slow"))


def test_a_shown_value_or_line_that_differs_is_caught():
    """The checks can fail: a value, a printed line or a command's output unlike the README's."""
    from tests.readme import run_python
    with pytest.raises(AssertionError, match="the README shows 2"):
        run_python("x = 1\nx          # 2\n")
    with pytest.raises(AssertionError, match="printed"):
        run_python("print('a b')   # a c\n")
    run_python("x = (1, 'two')\nx\n# (1, 'two')\nprint('a b c')   # a … c\nx   # a comment in prose\n")
    assert not matches(["one", "two"], ["one", "three"]) and not matches(["one"], ["one", "two"])
    assert matches(["one", "…"], ["one", "two", "three"]) and matches(["t…e"], ["three"])
