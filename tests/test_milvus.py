"""The library on Milvus Lite (no server): the same answers as FAISS, add/remove, a report filter,
a server that refuses, a library of another schema version."""
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra is not installed: pip install -e \".[milvus]\"")
pytest.importorskip("milvus_lite", reason="the milvus extra is not installed: pip install -e \".[milvus]\"")

from qa import ReportQA                                      # noqa: E402
from qa.errors import IndexStoreError, ReportError           # noqa: E402
from qa.store import milvus                                   # noqa: E402
from eval.gold import load_gold                               # noqa: E402

GOLD = Path(__file__).resolve().parents[1] / "eval"


@pytest.fixture(scope="module")
def stores(small_report, jilin_part, tmp_path_factory):
    """The same two small reports in a FAISS library and in a Milvus Lite library."""
    root = tmp_path_factory.mktemp("stores")
    faiss_qa = ReportQA.load(library=root / "faiss", progress=False)
    milvus_qa = ReportQA.load(library="test", store=str(root / "library.db"), progress=False)
    for path in (small_report, jilin_part):
        faiss_qa.add(path, progress=False)
        milvus_qa.add(path, progress=False)
    return faiss_qa, milvus_qa, root / "library.db"


def _sample():
    henan = [dict(g, report="henan-2024") for g in load_gold(GOLD / "gold.jsonl")[:30]]
    jilin = [g for g in load_gold(GOLD / "gold" / "jilin-2025.jsonl")][:20]
    return henan + jilin


def _top(ans):
    return (ans.passages[0].report, ans.passages[0].chunk.start) if ans.passages else None


def test_the_same_answers_as_faiss(stores):
    faiss_qa, milvus_qa, _ = stores
    assert [r.id for r in milvus_qa.reports()] == [r.id for r in faiss_qa.reports()] == ["henan-2024", "jilin-2025"]
    same_top, same_answer, diffs = 0, 0, []
    sample = _sample()
    for g in sample:
        a, b = faiss_qa.ask(g["question"], report=g["report"]), milvus_qa.ask(g["question"], report=g["report"])
        top = _top(a) == _top(b)
        same_top += top
        same_answer += (a.found, a.text) == (b.found, b.text)
        if not top or a.text != b.text:
            diffs.append((g["question"], a.text, b.text))
    assert same_top / len(sample) >= 0.95 and same_answer / len(sample) >= 0.95, diffs
    # The scores themselves agree, not just the order.
    a, b = faiss_qa.ask("技术合同成交额增长了多少？", report="henan-2024"), milvus_qa.ask("技术合同成交额增长了多少？",
                                                                              report="henan-2024")
    assert "33.4%" in b.text and b.citations[0].quote == a.citations[0].quote
    assert abs(a.passages[0].score - b.passages[0].score) < 1e-3


def test_a_report_filter(stores):
    _, milvus_qa, _ = stores
    ans = milvus_qa.ask("粮食总产量是多少？", report="jilin-2025", k=10)
    assert ans.passages and {p.report for p in ans.passages} == {"jilin-2025"}
    store = milvus_qa.index
    assert store.reports_where(region="jilin") == {"jilin-2025"}
    assert store.reports_where(year=2024) == {"henan-2024"}
    assert store.reports_where(region="henan", year=2025) == set()


def test_remove_and_add_again(stores, jilin_part):
    faiss_qa, milvus_qa, db = stores
    before = milvus_qa.ask("粮食总产量是多少？", report="jilin-2025")
    gone = milvus_qa.remove("jilin-2025")
    assert gone.id == "jilin-2025" and [r.id for r in milvus_qa.reports()] == ["henan-2024"]
    with pytest.raises(ReportError):
        milvus_qa.ask("粮食总产量是多少？", report="jilin-2025")
    assert milvus_qa.index.reports_where(region="jilin") == set()
    # Another process (here: another engine on the same file) sees the library as it now is.
    other = ReportQA.load(library="test", store=str(db), progress=False)
    assert [r.id for r in other.reports()] == ["henan-2024"]
    again = milvus_qa.add(jilin_part, progress=False)
    assert again.id == "jilin-2025"
    after = milvus_qa.ask("粮食总产量是多少？", report="jilin-2025")
    assert (after.found, after.text) == (before.found, before.text)
    assert milvus_qa.add(jilin_part, progress=False).id == "jilin-2025"    # the same text is not stored twice
    assert len(milvus_qa.reports()) == 2


def test_a_server_that_refuses_gives_one_line():
    with pytest.raises(IndexStoreError) as e:
        ReportQA.load(store="http://127.0.0.1:1", progress=False)
    msg = str(e.value)
    assert "127.0.0.1:1" in msg and "\n" not in msg and "Traceback" not in msg


def test_credentials_never_in_the_uri_and_unknown_stores():
    with pytest.raises(IndexStoreError, match="MILVUS_TOKEN"):
        ReportQA.load(store="http://root:secret@127.0.0.1:1", progress=False)
    with pytest.raises(IndexStoreError, match="Unknown store"):
        ReportQA.load(store="mongodb://somewhere", progress=False)


def test_a_library_of_another_schema_version_is_refused(stores, tmp_path):
    _, milvus_qa, _ = stores
    db = tmp_path / "old.db"
    lib = milvus.MilvusLibrary(str(db), milvus_qa.embedder, name="old")
    lib.open()
    meta = lib._meta()
    lib._put_meta(dict(meta, schema_version=milvus.SCHEMA_VERSION + 1))
    lib.close()
    with pytest.raises(IndexStoreError, match="schema version") as e:
        ReportQA.load(library="old", store=str(db), progress=False)
    assert "\n" not in str(e.value)
