"""The paths that large indexes take (HNSW, candidate scoring), exercised on the real report
by lowering their thresholds, and checked against the exact path."""
import faiss
import numpy as np
import pytest

from qa.store.index import Index
from qa.ask.retriever import Retriever
from eval.run import load_gold


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
    assert isinstance(hnsw.dense, faiss.IndexHNSWFlat) and isinstance(ix.dense, faiss.IndexFlatIP)
    scaled = Retriever(hnsw, qa.embedder, full_scoring_max=10, candidates=20, report_years=_years(qa))
    exact = _top1(qa.retriever, questions, qa.embedder)
    agree = np.mean([a == b for a, b in zip(exact, _top1(scaled, questions, qa.embedder))])
    assert agree >= 0.97, agree
