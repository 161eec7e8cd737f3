import json

import pytest

from qa import ReportQA
from qa.errors import IndexStoreError
from qa.store.index import Index


def _gen(root):
    return (root / "CURRENT").read_text().strip()


@pytest.fixture()
def built(small_report, tmp_path):
    root = tmp_path / "index"
    ReportQA.load(report=small_report, index_dir=root, progress=False)
    return small_report, root


def test_index_is_persisted_with_a_manifest_and_reused(built, capsys):
    report, root = built
    gen = _gen(root)
    manifest = json.loads((root / gen / "manifest.json").read_text())
    for key in ("corpus_sha256", "chunks_sha256", "model_id", "chunking", "format_version"):
        assert key in manifest
    again = ReportQA.load(report=report, index_dir=root, progress=False)
    assert _gen(root) == gen, "a matching index is reused, not rebuilt"
    assert "33.4%" in again.ask("技术合同成交额增长了多少？").text


def test_stale_index_is_rebuilt(built, tmp_path):
    report, root = built
    gen = _gen(root)
    changed = tmp_path / "changed.txt"
    changed.write_text(report.read_text(encoding="utf-8").replace("33.4%", "35.0%"), encoding="utf-8")
    qa = ReportQA.load(report=changed, index_dir=root, progress=False)
    assert _gen(root) != gen
    assert "35.0%" in qa.ask("技术合同成交额增长了多少？").text
    assert not (root / gen).exists(), "the old generation is cleaned up"


def test_foreign_model_index_is_rebuilt(built):
    report, root = built
    gen = _gen(root)
    manifest_path = root / gen / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model_id"] = "someone/else"
    manifest_path.write_text(json.dumps(manifest))
    ReportQA.load(report=report, index_dir=root, progress=False)
    assert _gen(root) != gen


@pytest.mark.parametrize("damage", ["truncate_faiss", "delete_chunks", "garbage_manifest", "bad_pointer"])
def test_damaged_index_is_rebuilt_not_used(built, damage, capsys):
    report, root = built
    gen = root / _gen(root)
    if damage == "truncate_faiss":
        (gen / "dense.faiss").write_bytes((gen / "dense.faiss").read_bytes()[:100])
    elif damage == "delete_chunks":
        (gen / "chunks.json").unlink()
    elif damage == "garbage_manifest":
        (gen / "manifest.json").write_text("{not json")
    else:
        (root / "CURRENT").write_text("gen-missing")
    with pytest.raises(IndexStoreError):
        Index.load(root)
    qa = ReportQA.load(report=report, index_dir=root, progress=False)
    assert "Rebuilding" in capsys.readouterr().out
    assert "33.4%" in qa.ask("技术合同成交额增长了多少？").text
    Index.load(root)


def test_crash_mid_build_leaves_the_previous_index_usable(built, monkeypatch):
    report, root = built
    gen = _gen(root)
    index = Index.load(root)

    def crash(*a, **k):
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr("faiss.write_index", crash)   # dies after chunks.json, before the rest
    with pytest.raises(KeyboardInterrupt):
        index.save(root)
    monkeypatch.undo()
    assert _gen(root) == gen
    assert Index.load(root).manifest == index.manifest
    qa = ReportQA.load(report=report, index_dir=root, progress=False)
    assert _gen(root) == gen and "33.4%" in qa.ask("技术合同成交额增长了多少？").text


def test_unwritable_index_location_is_a_clear_error(small_report, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(IndexStoreError, match="Cannot write the index"):
        ReportQA.load(report=small_report, index_dir=blocker / "index", progress=False)
