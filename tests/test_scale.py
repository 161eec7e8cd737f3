"""The paths that large indexes take (HNSW, candidate scoring), exercised on the real report
by lowering their thresholds, and checked against the exact path."""
import faiss
import numpy as np
import pytest

from qa.ingest.chunks import embed_texts, sentence_context
from qa.store.index import Index, lexical_tokens
from qa.ask.retriever import Retriever
from eval.gold import load_gold


@pytest.fixture(scope="module")
def questions():
    return [g["question"] for g in load_gold() if g["answers"]]


def _years(qa):
    """What 今年 means in each report, as the engine gives its retriever."""
    return {r.id: r.year for r in qa.reports()}


def _top1(retriever, questions, embedder):
    return [retriever.retrieve(q, k=1, qvec=embedder.query(q))[0].chunk_id for q in questions]


def test_candidate_scoring_agrees_with_scoring_every_chunk(qa, questions):
    exact = _top1(qa.retriever, questions, qa.embedder)
    scaled = Retriever(qa.index, qa.embedder, full_scoring_max=10, candidates=20, report_years=_years(qa))
    assert not scaled.full
    agree = np.mean([a == b for a, b in zip(exact, _top1(scaled, questions, qa.embedder))])
    assert agree >= 0.97, agree


def test_hnsw_index_beyond_the_flat_limit_keeps_the_answers(qa, questions):
    ix = qa.index
    vectors = ix.chunk_vectors(np.arange(len(ix.chunks)))
    hnsw = Index.assemble(ix.chunks, vectors, np.asarray(ix.sentence_vectors), ix.sentence_chunks,
                          ix.parts, flat_max=10, glossary=ix.glossary)
    assert isinstance(hnsw.dense, faiss.IndexHNSWSQ) and isinstance(ix.dense, faiss.IndexScalarQuantizer)
    scaled = Retriever(hnsw, qa.embedder, full_scoring_max=10, candidates=20, report_years=_years(qa))
    exact = _top1(qa.retriever, questions, qa.embedder)
    agree = np.mean([a == b for a, b in zip(exact, _top1(scaled, questions, qa.embedder))])
    assert agree >= 0.97, agree


def test_vectors_are_held_as_float16_and_keep_the_cosines(qa, doc):
    """Half the bytes of float32, searched without a float32 copy; a cosine moves by under 1e-3."""
    ix = qa.index
    assert isinstance(ix.dense, faiss.IndexScalarQuantizer) and ix.sentence_vectors.dtype == np.float16
    n, d = ix.dense.ntotal, ix.dense.d
    assert faiss.serialize_index(ix.dense).nbytes < 0.55 * n * d * 4
    chunks = [c for c in ix.chunks if c.report == "henan-2024"][:20]
    fresh = qa.embedder.passages(embed_texts(doc, chunks)[:20] + [sentence_context(doc, i) for i in range(20)])
    ids = np.array([c.chunk_id for c in chunks])
    rows = np.arange(ix.part("henan-2024").sentences.start, ix.part("henan-2024").sentences.start + 20)
    held = np.vstack([ix.chunk_vectors(ids), ix.sentence_rows(rows)])
    assert held.dtype == np.float32
    q = qa.embedder.query("技术合同成交额增长了多少？")
    assert float(np.abs(held @ q - fresh @ q).max()) < 1e-3
    scores, order = ix.dense.search(q[None, :], 5)
    assert np.allclose(scores[0], ix.cosines(q, order[0]), atol=1e-6), "search and cosines read the same vectors"


def test_the_lexical_index_built_from_ids_scores_as_from_words(qa):
    """lexical_ids only saves memory: BM25 over the same words gives the same scores."""
    import bm25s
    ix = qa.index
    reference = bm25s.BM25()
    reference.index([lexical_tokens(c) or ["∅"] for c in ix.chunks], show_progress=False)
    assert set(reference.vocab_dict) == ix.vocab
    for q in ["技术合同成交额增长了多少？", "2024年经济增长的预期目标是多少？", "粮食产量"]:
        tokens = [w for w in qa.retriever.question(q).search_words if w in ix.vocab]
        assert tokens and np.array_equal(reference.get_scores(tokens), ix.lexical_scores(tokens))
