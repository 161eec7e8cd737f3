"""The library on disk: generations swapped atomically, checksums, repairs, two writers, add/remove."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from qa import ReportQA
from qa.errors import IndexStoreError, ReportError
from qa.store.vectors import InMemory, OnFile, open_vectors

TECH = "技术合同成交额增长了多少？"


def _gen(root):
    return (root / "CURRENT").read_text().strip()


def _manifest(root):
    return json.loads((root / _gen(root) / "manifest.json").read_text())


@pytest.fixture()
def built(small_report, tmp_path):
    root = tmp_path / "library"
    ReportQA.load(report=small_report, index_dir=root, progress=False)
    return small_report, root


def test_library_is_persisted_with_checksums_and_reused(built):
    report, root = built
    gen = _gen(root)
    manifest = _manifest(root)
    for key in ("format_version", "model_id", "chunking", "reports", "files"):
        assert key in manifest
    assert manifest["reports"][0]["id"] == "henan-2024"
    assert all(len(digest) == 64 for digest in manifest["files"].values())
    again = ReportQA.load(report=report, index_dir=root, progress=False)
    assert _gen(root) == gen, "a matching library is reused, not rebuilt"
    assert "33.4%" in again.ask(TECH).text


def test_a_changed_report_replaces_the_old_one(built, tmp_path):
    report, root = built
    gen = _gen(root)
    changed = tmp_path / "changed.txt"
    changed.write_text(report.read_text(encoding="utf-8").replace("33.4%", "35.0%"), encoding="utf-8")
    qa = ReportQA.load(report=changed, index_dir=root, progress=False)
    assert _gen(root) != gen and [r.id for r in qa.reports()] == ["henan-2024"]
    assert "35.0%" in qa.ask(TECH).text


def test_vectors_of_another_model_are_made_again(built):
    report, root = built
    gen = _gen(root)
    path = root / gen / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model_id"] = "someone/else"
    path.write_text(json.dumps(manifest))
    ReportQA.load(report=report, index_dir=root, progress=False)
    assert _gen(root) != gen and _manifest(root)["model_id"] != "someone/else"


@pytest.mark.parametrize("damage", ["truncate_faiss", "flip_vectors", "flip_all_sentences", "delete_bm25",
                                    "garbage_manifest", "bad_pointer", "pointer_not_utf8", "edit_text"])
def test_damage_is_noticed_and_repaired_never_used(built, damage, caplog):
    report, root = built
    gen = root / _gen(root)
    if damage == "truncate_faiss":
        (gen / "dense.faiss").write_bytes((gen / "dense.faiss").read_bytes()[:100])
    elif damage == "flip_vectors":
        path = gen / "reports" / "henan-2024.sentences.npy"
        data = bytearray(path.read_bytes())
        data[-200:-100] = bytes(b ^ 0x5A for b in data[-200:-100])
        path.write_bytes(bytes(data))
    elif damage == "flip_all_sentences":     # the combined file the index reads sentences from
        path = gen / "sentences.npy"
        data = bytearray(path.read_bytes())
        data[-200:-100] = bytes(b ^ 0x5A for b in data[-200:-100])
        path.write_bytes(bytes(data))
    elif damage == "delete_bm25":
        next((gen / "bm25").glob("*.npy")).unlink()
    elif damage == "garbage_manifest":
        (gen / "manifest.json").write_text("{not json")
    elif damage == "bad_pointer":
        (root / "CURRENT").write_text("gen-missing")
    elif damage == "pointer_not_utf8":
        (root / "CURRENT").write_bytes(b"\xff\xfe\x00gen")
    else:   # a figure edited in the stored text: its checksum no longer holds
        path = gen / "reports" / "henan-2024.txt"
        path.write_text(path.read_text(encoding="utf-8").replace("33.4%", "99.9%"), encoding="utf-8")
    qa = ReportQA.load(report=report, index_dir=root, progress=False)
    ans = qa.ask(TECH)
    assert "33.4%" in ans.text and "99.9%" not in qa.text
    c = ans.citations[0]
    assert qa.text[c.start:c.end] == c.quote
    assert all(_manifest(root)["files"].values())


def test_a_crash_mid_write_leaves_the_library_usable_and_is_swept_later(built, jilin_part, monkeypatch):
    report, root = built
    gen = _gen(root)
    qa = ReportQA.load(index_dir=root, progress=False)

    def crash(*a, **k):
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr("faiss.write_index", crash)     # dies after the texts and vectors, before the rest
    with pytest.raises(KeyboardInterrupt):
        qa.add(jilin_part, progress=False)
    monkeypatch.undo()
    half = [g for g in root.glob("gen-*") if not (g / "manifest.json").exists()]
    assert _gen(root) == gen and half, "the half-written generation is never made live"
    again = ReportQA.load(index_dir=root, progress=False)
    assert [r.id for r in again.reports()] == ["henan-2024"] and "33.4%" in again.ask(TECH).text
    again.add(jilin_part, progress=False)
    assert not any(g.exists() for g in half), "the next write sweeps it away"


def test_add_ask_compare_remove(built, jilin_part):
    report, root = built
    qa = ReportQA.load(index_dir=root, progress=False)
    rep = qa.add(jilin_part, progress=False)
    assert (rep.id, rep.region, rep.year, rep.speaker, rep.date) == ("jilin-2025", "吉林", 2025, "胡玉亭", "2025-01-14")
    again = qa.add(jilin_part, progress=False)
    assert again == rep and len(qa.reports()) == 2, "the same file is recognised, not stored twice"
    ans = qa.ask("吉林2024年粮食总产量是多少？")
    assert ans.found and ans.report == "jilin-2025" and "亿斤" in ans.text
    c = ans.citations[0]
    assert qa.text_of("jilin-2025")[c.start:c.end] == c.quote and c.report == "jilin-2025"
    assert ans.passages[0].report == "jilin-2025"
    answers = qa.compare(TECH)     # both report it: Henan its growth, Jilin its amount
    assert [a.report for a in answers] == ["henan-2024", "jilin-2025"] and "33.4%" in answers[0].text
    for a in answers:
        assert a.text in qa.text_of(a.report)
    labs = "规上工业企业研发活动覆盖率是多少？"
    assert "70.9%" in qa.ask(labs, report="henan-2024").text and not qa.ask(labs, report="jilin-2025").found
    with pytest.raises(ReportError, match="No report 'nope'"):
        qa.ask(TECH, report="nope")
    qa.remove("jilin-2025")
    assert [r.id for r in qa.reports()] == ["henan-2024"]
    assert [r.id for r in ReportQA.load(index_dir=root, progress=False).reports()] == ["henan-2024"]
    with pytest.raises(ReportError, match="No report"):
        qa.remove("jilin-2025")


WRITER = textwrap.dedent("""
    import sys
    from qa import ReportQA
    qa = ReportQA.load(library=sys.argv[1], progress=False)
    print(qa.add(sys.argv[2], progress=False).id)
""")


def test_two_writers_at_once_both_land(tmp_path, small_report, jilin_part):
    root = tmp_path / "shared-library"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(p)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in (small_report, jilin_part)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    qa = ReportQA.load(library=root, progress=False)
    assert sorted(r.id for r in qa.reports()) == ["henan-2024", "jilin-2025"]
    assert len(qa.index.chunks) == sum(r.chunks for r in qa.reports())


def test_an_unwritable_library_fails_before_any_embedding(small_report, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(IndexStoreError, match="Cannot write the library"):
        ReportQA.load(report=small_report, index_dir=blocker / "library", progress=False)


def test_a_small_librarys_sentence_vectors_are_stored_as_float16_and_read_into_memory(built):
    report, root = built
    qa = ReportQA.load(report=report, index_dir=root, progress=False)
    vectors = qa.index.sentence_vectors
    gen = root / _gen(root)
    stored = np.load(gen / "sentences.npy")
    assert isinstance(vectors, InMemory) and stored.dtype == np.float16 and not isinstance(vectors.data, np.memmap)
    assert np.array_equal(qa.index.sentence_rows(np.arange(len(stored))), stored.astype(np.float32))
    # Truncating the files under a running process must not kill it (mapped, they would SIGBUS it).
    for path in (gen / "sentences.npy", gen / "reports" / "henan-2024.sentences.npy"):
        os.truncate(path, 128)
    assert "33.4%" in qa.ask(TECH).text


def test_a_large_librarys_sentence_vectors_are_read_from_their_file(built, tmp_path):
    """Beyond RESIDENT_MAX_BYTES the rows are read from the generation's file: the same answers; a
    deleted generation is still read through the open file; a truncated file is an error, not a crash."""
    report, root = built
    qa = ReportQA.load(report=report, index_dir=root, progress=False)
    expected = qa.ask(TECH).to_dict()
    gen = root / _gen(root)
    shutil.copy(gen / "sentences.npy", tmp_path / "copy.npy")
    on_file = open_vectors(gen / "sentences.npy", resident_max_bytes=0)
    assert isinstance(on_file, OnFile)
    rows = np.arange(len(on_file))
    in_memory = qa.index.sentence_rows(rows)
    qa.index.sentence_vectors = on_file
    assert qa.ask(TECH).to_dict() == expected
    assert on_file.cached == len(on_file), "rows once read are kept, up to the cache's size"
    uncached = OnFile(gen / "sentences.npy", cache_max_bytes=0)
    shutil.rmtree(gen)
    assert np.array_equal(uncached.rows(rows[::-1]), in_memory[::-1]) and uncached.cached == 0
    damaged = OnFile(tmp_path / "copy.npy", cache_max_bytes=0)
    os.truncate(tmp_path / "copy.npy", 4096)
    assert np.array_equal(damaged.rows(np.arange(2)), in_memory[:2])
    with pytest.raises(IndexStoreError, match="damaged"):
        damaged.rows(rows[-5:])


def test_a_library_served_from_its_files_keeps_its_answers_across_writes(built, jilin_part, monkeypatch):
    """A library too large to hold its sentence vectors (here: the limit lowered to nothing) is served
    from each new generation's file, written from the reports' stored vectors, while older generations
    are swept away."""
    report, root = built
    expected = ReportQA.load(index_dir=root, progress=False).ask(TECH).to_dict()
    monkeypatch.setattr("qa.store.vectors.RESIDENT_MAX_BYTES", 0)
    qa = ReportQA.load(index_dir=root, progress=False)
    assert isinstance(qa.index.sentence_vectors, OnFile) and qa.ask(TECH).to_dict() == expected
    first = _gen(root)
    for step in range(2):
        qa.add(jilin_part, progress=False)
        if not step:
            qa.remove("jilin-2025")
    assert not (root / first).exists(), "the generation it was first served from is gone"
    assert isinstance(qa.index.sentence_vectors, OnFile)
    again = qa.ask(TECH, report="henan-2024")
    assert again.text == expected["text"] and again.citations[0].quote == expected["citations"][0]["quote"]
    assert "亿斤" in qa.ask("吉林2024年粮食总产量是多少？").text


def test_removing_the_last_report_sticks(built):
    report, root = built
    qa = ReportQA.load(index_dir=root, progress=False)
    qa.remove("henan-2024")
    assert ReportQA.load(library=root, progress=False).reports() == []
    with pytest.raises(ReportError, match="no reports"):
        ReportQA.load(library=root, progress=False).ask(TECH)


def test_one_damaged_text_costs_no_other_report(built, jilin_part):
    report, root = built
    qa = ReportQA.load(index_dir=root, progress=False)
    qa.add(jilin_part, progress=False)
    path = root / _gen(root) / "reports" / "jilin-2025.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("2249公里", "9999公里"), encoding="utf-8")
    again = ReportQA.load(library=root, progress=False)
    assert sorted(r.id for r in again.reports()) == ["henan-2024", "jilin-2025"]
    assert "9999公里" not in again.text_of("jilin-2025"), "an intact copy from the previous generation"
    assert "33.4%" in again.ask(TECH, report="henan-2024").text


def test_a_damaged_manifest_is_rebuilt_from_the_texts(built, jilin_part):
    report, root = built
    qa = ReportQA.load(index_dir=root, progress=False)
    qa.add(jilin_part, progress=False)
    (root / _gen(root) / "manifest.json").write_text("{not json")
    again = ReportQA.load(library=root, progress=False)
    assert sorted(r.id for r in again.reports()) == ["henan-2024", "jilin-2025"]
    assert "33.4%" in again.ask(TECH, report="henan-2024").text


def test_a_text_far_longer_than_any_report_is_refused_before_embedding(tmp_path, small_report):
    from qa.ingest.pipeline import MAX_REPORT_CHARS
    big = tmp_path / "big.txt"
    text = small_report.read_text(encoding="utf-8")
    big.write_text(text * (MAX_REPORT_CHARS // len(text) + 1), encoding="utf-8")
    qa = ReportQA.load(library=tmp_path / "lib", progress=False)
    with pytest.raises(ReportError, match="characters of text"):
        qa.add(big, progress=False)
    assert qa.reports() == []


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_a_pdf_or_docx_of_a_report_gives_the_same_answers_as_its_text(tmp_path, jilin_part, kind):
    from tests.report_files import make_docx, make_pdf, report_lines
    lines = report_lines(jilin_part)
    path = tmp_path / f"jilin-2025.{kind}"
    (make_pdf(lines, path, header="2025年吉林省政府工作报告") if kind == "pdf" else make_docx(lines, path))
    questions = ["2024年吉林粮食总产量是多少？", "吉林省属国企一级企业数量压减了多少？",
                 "谁作的政府工作报告？", "How much did industrial investment grow in Jilin in 2024?"]
    as_text = ReportQA.load(report=jilin_part, index_dir=tmp_path / "from-text", progress=False)
    as_file = ReportQA.load(report=path, index_dir=tmp_path / f"from-{kind}", progress=False)
    assert as_file.reports()[0].id == "jilin-2025"
    found = 0
    for q in questions:
        a, b = as_text.ask(q), as_file.ask(q)
        assert (a.found, a.text) == (b.found, b.text), q
        if b.found:
            found += 1
            assert b.citations[0].quote == as_file.text[b.citations[0].start:b.citations[0].end]
    assert found >= 3


def test_a_report_removed_by_another_process_is_gone_from_the_list_and_the_figures(built, jilin_part):
    _, root = built
    serving = ReportQA.load(index_dir=root, progress=False)
    serving.add(jilin_part, progress=False)
    assert [r.id for r in serving.reports()] == ["henan-2024", "jilin-2025"]
    ReportQA.load(index_dir=root, progress=False).remove("jilin-2025")      # say, `python -m qa remove`
    assert [r.id for r in serving.reports()] == ["henan-2024"]
    assert {f.report for f in serving.figures()} == {"henan-2024"}


def test_a_library_written_by_a_newer_version_is_refused_not_rewritten(built):
    _, root = built
    path = root / _gen(root) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] += 1
    path.write_text(json.dumps(manifest))
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(IndexStoreError, match="newer report-qa"):
        ReportQA.load(index_dir=root, progress=False)
    assert sorted(p.name for p in root.iterdir()) == before          # nothing rewritten


def test_a_library_of_another_model_says_which(built, caplog):
    _, root = built
    path = root / _gen(root) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model_id"] = "some-other-model"
    path.write_text(json.dumps(manifest))
    with caplog.at_level("WARNING"):
        ReportQA.load(index_dir=root, progress=False)
    assert "built with the model 'some-other-model'" in caplog.text
