"""A library a team shares: every change logged with its user, a second version of a report never stored
silently, the files reports came from kept, writers that say whom they wait for, Milvus Lite's one
process per file said in one line, and the smaller library findings of a fault trial."""
import fcntl
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qa import ReportQA, writer
from qa.errors import IndexStoreError, ReportError, SameTitleError
from tests.report_files import make_pdf, report_lines
from tests.test_stores import HAS_MILVUS, STORES, open_store

GRAIN = "吉林2024年粮食总产量是多少？"


def _run(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], capture_output=True, encoding="utf-8",
                          timeout=timeout, env={**os.environ, **(env or {})})


def _one_error_line(r) -> str:
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


@pytest.fixture()
def doctored(jilin_part, tmp_path):
    """The same report with one figure changed: same title and year, another text."""
    path = tmp_path / "jilin-2025-edited.txt"
    path.write_text(jilin_part.read_text(encoding="utf-8").replace("2249公里", "9999公里"), encoding="utf-8")
    return path


@pytest.mark.parametrize("store", STORES)
def test_every_change_is_logged_with_its_user_and_checksum(store, tmp_path, small_report, jilin_part):
    qa = open_store(store, tmp_path)
    henan = qa.add(small_report, progress=False, user="alice")
    jilin = qa.add(jilin_part, progress=False)
    qa.add(jilin_part, progress=False, user="carol")           # already there: no change, nothing logged
    qa.remove("jilin-2025", user="bob")
    log = [c.to_dict() for c in qa.log()]
    assert [(c["action"], c["user"], c["report"], c["file"], c["sha256"]) for c in log] == [
        ("add", "alice", "henan-2024", small_report.name, henan.sha256),
        ("add", "cli", "jilin-2025", jilin_part.name, jilin.sha256),
        ("remove", "bob", "jilin-2025", jilin_part.name, jilin.sha256)]
    assert all(c["at"].endswith("Z") and c["at"] <= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) for c in log)
    if store == "faiss":
        printed = json.loads(_run("log", "--json", "--library", tmp_path / "library").stdout)
        assert printed == log
        table = _run("log", "--library", tmp_path / "library").stdout.splitlines()
        assert table[0].split() == ["when", "user", "action", "report", "file", "sha256"] and len(table) == 4


@pytest.mark.parametrize("store", STORES)
def test_a_second_version_of_a_report_is_never_stored_silently(store, tmp_path, jilin_part, doctored):
    qa = open_store(store, tmp_path)
    qa.add(jilin_part, progress=False)
    with pytest.raises(SameTitleError, match="already has jilin-2025") as e:
        qa.add(doctored, progress=False)
    assert e.value.code == "same_title_differs" and "\n" not in str(e.value)
    assert [r.id for r in qa.reports()] == ["jilin-2025"] and "9999公里" not in qa.text_of("jilin-2025")
    both = qa.add(doctored, progress=False, keep_both=True)
    assert both.id == "jilin-2025-2" and [r.id for r in qa.reports()] == ["jilin-2025", "jilin-2025-2"]
    assert qa.add(doctored, progress=False).id == "jilin-2025-2"     # the same text again: already there


def test_a_replacement_takes_the_reports_place(tmp_path, jilin_part, doctored):
    qa = open_store("faiss", tmp_path)
    old = qa.add(jilin_part, progress=False)
    new = qa.add(doctored, progress=False, replace=True, user="editor")
    assert new.id == "jilin-2025" and [r.id for r in qa.reports()] == ["jilin-2025"]
    assert "9999公里" in qa.text_of("jilin-2025")
    assert [(c.action, c.sha256, c.user) for c in qa.log()][-2:] == [("remove", old.sha256, "editor"),
                                                                      ("add", new.sha256, "editor")]
    r = _run("add", jilin_part, "--library", tmp_path / "library")      # the CLI says what to do
    assert "--replace" in _one_error_line(r) and "--keep-both" in r.stderr
    assert _run("add", jilin_part, "--keep-both", "--library", tmp_path / "library").returncode == 0


def test_the_file_a_report_came_from_is_kept_and_checked(tmp_path, jilin_part):
    pdf = make_pdf(report_lines(jilin_part), tmp_path / "jilin.pdf", header="2025年吉林省政府工作报告")
    qa = open_store("faiss", tmp_path)
    report = qa.add(pdf, progress=False)
    kept = qa.original_of(report.id)
    assert kept is not None and kept.suffix == ".pdf" and kept.read_bytes() == pdf.read_bytes()
    assert ReportQA.load(library=tmp_path / "library", progress=False).original_of(report.id) == kept
    kept.write_bytes(kept.read_bytes()[:-10])                          # damaged: not handed out
    assert qa.original_of(report.id) is None


@pytest.mark.skipif(not HAS_MILVUS, reason="the milvus extra is not installed")
def test_a_milvus_library_keeps_no_original(tmp_path, jilin_part):
    qa = open_store("milvus", tmp_path)
    assert qa.original_of(qa.add(jilin_part, progress=False).id) is None


def test_a_writer_waiting_for_the_lock_says_who_holds_it_and_gives_up(tmp_path, small_report):
    root = tmp_path / "library"
    ReportQA.load(library=root, progress=False).add(small_report, progress=False)
    with open(root / "LOCK", "a+") as held:                 # another writer at work, as it records itself
        fcntl.flock(held, fcntl.LOCK_EX)
        held.truncate(0)
        held.write(json.dumps({"pid": 4242, "command": "python -m qa build"}))
        held.flush()
        started = time.monotonic()
        r = _run("remove", "henan-2024", "--library", root, env={"REPORT_QA_LOCK_WAIT": "2"})
        waited = time.monotonic() - started
    line = _one_error_line(r)
    assert "process 4242 (python -m qa build)" in line and "REPORT_QA_LOCK_WAIT" in line
    assert "Waiting for the library" in r.stderr and "process 4242" in r.stderr
    assert waited < 60
    assert [x.id for x in ReportQA.load(library=root, progress=False).reports()] == ["henan-2024"]


@pytest.mark.parametrize("apart", [False, True], ids=["in-process", "apart"])
def test_questions_are_answered_from_the_current_library_while_a_report_is_added(tmp_path, small_report,
                                                                                 jilin_part, apart):
    qa = ReportQA.load(library=tmp_path / "library", progress=False)
    qa.add(small_report, progress=False)
    adding = threading.Thread(target=qa.add, args=(jilin_part,), kwargs={"progress": False, "apart": apart})
    adding.start()
    during, slowest = [], 0.0
    while adding.is_alive():
        t0 = time.monotonic()
        ans = qa.ask("技术合同成交额增长了多少？")
        slowest = max(slowest, time.monotonic() - t0)
        if adding.is_alive():
            during.append(ans)
    adding.join()
    assert during and all("33.4%" in a.text for a in during)
    assert slowest < 3.0, f"a question waited {slowest:.1f} s for the add"
    assert qa.ask(GRAIN).report == "jilin-2025"


def test_a_write_apart_is_the_same_write_and_its_errors_come_back_as_raised(tmp_path, small_report, jilin_part,
                                                                            doctored):
    """A server writes in a child process (qa.writer): the report, the log and every refusal are the
    ones an add in process gives; a child that fails says so in one line and changes nothing."""
    qa = ReportQA.load(library=tmp_path / "library", progress=False)
    qa.add(small_report, progress=False)
    jilin = qa.add(jilin_part, apart=True, user="alice")
    assert jilin.id == "jilin-2025" and jilin in qa.reports() and qa.ask(GRAIN).report == "jilin-2025"
    assert qa.add(jilin_part, apart=True) == jilin                      # already there
    with pytest.raises(SameTitleError) as e:
        qa.add(doctored, apart=True, user="alice")
    assert e.value.code == "same_title_differs" and e.value.details["report"] == "jilin-2025"
    bad = tmp_path / "notes.md"
    bad.write_text("笔记")
    with pytest.raises(ReportError) as e:
        qa.add(bad, apart=True)
    assert e.value.code == "unsupported_type" and "notes.md" in str(e.value)
    with pytest.raises(IndexStoreError) as e:           # a request the child cannot do: it ends
        writer.write(qa.library.address(), None, "add", path=str(jilin_part))
    assert e.value.code == "write_failed" and "KeyError" in str(e.value) and "\n" not in str(e.value)
    assert qa.remove("jilin-2025", user="bob", apart=True) == jilin
    assert [r.id for r in qa.reports()] == ["henan-2024"]
    assert [(c.action, c.user, c.report) for c in qa.log()] == [
        ("add", "cli", "henan-2024"), ("add", "alice", "jilin-2025"), ("remove", "bob", "jilin-2025")]


def test_a_file_given_as_the_library_is_refused(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a library")
    assert "is a file, not a library directory" in _one_error_line(_run("list", "--library", blocker))


def test_a_path_as_a_milvus_library_name_is_refused(tmp_path):
    r = _run("list", "--store", tmp_path / "library.db", "--library", tmp_path / "lib")
    assert "names the library inside Milvus" in _one_error_line(r)


def test_generations_a_killed_write_left_are_swept_when_the_library_opens(tmp_path, small_report):
    root = tmp_path / "library"
    ReportQA.load(library=root, progress=False).add(small_report, progress=False)
    half = root / "gen-killed"
    (half / "reports").mkdir(parents=True)
    (half / "reports" / "henan-2024.chunks.npy").write_bytes(bytes(1024))
    qa = ReportQA.load(library=root, progress=False)
    assert not half.exists() and [r.id for r in qa.reports()] == ["henan-2024"]


HOLD = """
import sys, time
from pymilvus import MilvusClient
MilvusClient(uri=sys.argv[1])
print("open", flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not HAS_MILVUS, reason="the milvus extra is not installed")
def test_a_second_process_on_a_milvus_lite_file_gets_one_line(tmp_path):
    db = tmp_path / "library.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        line = _one_error_line(_run("list", "--store", db, "--library", "shared"))
        assert "open in another process" in line and "one process per file" in line
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(not HAS_MILVUS, reason="the milvus extra is not installed")
def test_a_damaged_milvus_lite_file_gets_one_line_and_a_way_out(tmp_path):
    db = tmp_path / "library.db"
    db.mkdir()
    (db / "collections").write_bytes(b"\x00garbage")          # a directory Milvus Lite needs, as a file
    line = _one_error_line(_run("list", "--store", db, "--library", "shared"))
    assert "may be damaged" in line and "python -m qa repair" in line
    r = _run("repair", "--store", db, "--library", "shared")
    assert r.returncode == 0 and "it is kept as" in r.stdout, r.stderr
    assert any(p.name.startswith("library.db.damaged-") for p in tmp_path.iterdir())
    assert _run("list", "--store", db, "--library", "shared", "--json").stdout.strip() == "[]"


@pytest.fixture()
def small_disk(tmp_path):
    """A 4 MB file system of its own (tmpfs; needs root), nearly filled."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)]).returncode:
        pytest.skip("mounting a small file system needs root")
    try:
        with open(mount / "filler", "wb") as f:
            f.write(bytes(4 * (1 << 20) - (32 << 10)))
        yield mount
    finally:
        subprocess.run(["umount", str(mount)])


def test_a_full_disk_is_named_as_the_cause(small_disk, small_report):
    qa = ReportQA.load(library=small_disk / "library", progress=False)
    with pytest.raises(IndexStoreError, match="the disk is full") as e:
        qa.add(small_report, progress=False)
    assert "\n" not in str(e.value) and qa.reports() == []
