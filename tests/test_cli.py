import json
import subprocess
import sys


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_ask_json_prints_the_answer_dict(qa):
    r = _run("ask", "What was the growth of technology contract turnover in 2023?", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= {"question", "found", "text", "citations", "passages", "confidence"}


def test_ask_prints_answer_and_citation(qa):
    r = _run("ask", "技术合同成交额增长了多少？")
    assert r.returncode == 0, r.stderr
    assert "33.4%" in r.stdout and "（二）创新能力明显提升" in r.stdout


def test_bad_inputs_exit_2_with_a_message_and_no_traceback(tmp_path):
    for args, words in [(["ask", "  "], "empty"),
                        (["ask", "x" * 10_000], "characters long"),
                        (["build", str(tmp_path / "missing.txt"), "--index", str(tmp_path / "i")], "not found")]:
        r = _run(*args)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_build_another_report_into_its_own_index(small_report, tmp_path):
    r = _run("build", str(small_report), "--index", str(tmp_path / "other"))
    assert r.returncode == 0, r.stderr
    assert "Indexed" in r.stdout and (tmp_path / "other" / "CURRENT").exists()
