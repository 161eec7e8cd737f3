"""Every store takes reports through one ingest path: the same files refused with the same errors,
a report parsed and chunked once per add, and a Milvus library that runs without FAISS."""
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qa import ReportQA
from qa.ingest import chunks as chunking, document as parsing
from qa.errors import ReportError
from qa.ingest.pipeline import MAX_REPORT_CHARS

HAS_MILVUS = all(importlib.util.find_spec(m) for m in ("pymilvus", "milvus_lite"))
STORES = ["faiss", pytest.param("milvus", marks=pytest.mark.skipif(
    not HAS_MILVUS, reason="the milvus extra is not installed: pip install -e \".[milvus]\""))]


def open_store(store: str, tmp_path: Path) -> ReportQA:
    if store == "faiss":
        return ReportQA.load(library=tmp_path / "library", progress=False)
    return ReportQA.load(library="bad", store=str(tmp_path / "library.db"), progress=False)


def _bad_files(tmp: Path, report: Path) -> dict[str, tuple[Path, str]]:
    """Files that are not reports a library may take, each with the words its refusal says."""
    text = report.read_text(encoding="utf-8")
    files = {"over-long": (text * (MAX_REPORT_CHARS // len(text) + 1)).encode("utf-8"),
             "empty": b"", "undecodable": bytes(range(256)) * 8}
    words = {"over-long": "characters of text", "empty": "is empty", "undecodable": "not text in a known encoding"}
    for name, data in files.items():
        (tmp / f"{name}.txt").write_bytes(data)
    return {name: (tmp / f"{name}.txt", words[name]) for name in files}


@pytest.mark.parametrize("store", STORES)
def test_every_store_refuses_the_same_files_with_the_same_errors(store, tmp_path, small_report):
    qa = open_store(store, tmp_path)
    first = qa.add(small_report, progress=False)
    for name, (path, words) in _bad_files(tmp_path, small_report).items():
        with pytest.raises(ReportError, match=words) as e:
            qa.add(path, progress=False)
        assert "\n" not in str(e.value), name
    again = qa.add(small_report, progress=False)        # a duplicate: the report already there
    assert again == first and [r.id for r in qa.reports()] == [first.id]


def _spy(monkeypatch, module, name: str) -> list:
    """Count the calls of module.name, wherever it was imported (each module holds its own reference)."""
    real, calls = getattr(module, name), []

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    for mod in list(sys.modules.values()):
        if getattr(mod, name, None) is real:
            monkeypatch.setattr(mod, name, counted)
    return calls


@pytest.mark.parametrize("store", STORES)
def test_one_add_parses_and_chunks_a_report_once(store, tmp_path, small_report, jilin_part, monkeypatch):
    qa = open_store(store, tmp_path)
    qa.add(small_report, progress=False)
    parses = _spy(monkeypatch, parsing, "parse")
    chunkings = _spy(monkeypatch, chunking, "chunk_document")
    report = qa.add(jilin_part, progress=False)
    assert report.id == "jilin-2025" and len(parses) == 1 and len(chunkings) == 1
    assert qa.ask("吉林2024年粮食总产量是多少？").report == "jilin-2025"


WITHOUT_FAISS = textwrap.dedent("""
    import sys
    sys.modules["faiss"] = sys.modules["bm25s"] = None        # importing either now fails
    from qa import ReportQA
    qa = ReportQA.load(library="nofaiss", store=sys.argv[1], progress=False)
    qa.add(sys.argv[2], progress=False)
    print(qa.ask("吉林2024年粮食总产量是多少？").text)
""")


@pytest.mark.skipif(not HAS_MILVUS, reason="the milvus extra is not installed")
def test_a_milvus_library_needs_no_faiss(tmp_path, jilin_part):
    r = subprocess.run([sys.executable, "-c", WITHOUT_FAISS, str(tmp_path / "library.db"), str(jilin_part)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "亿斤" in r.stdout
