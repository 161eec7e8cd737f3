"""ReportQA: the one facade that the CLI, the web chat and the evaluation use.

    qa = ReportQA.load()            # bundled report; builds the index on first use
    qa.ask("技术合同成交额增长了多少？")
    qa.search("新能源汽车", k=5)
"""
from __future__ import annotations

import logging
import os
import re
import unicodedata
from pathlib import Path

from .ingest.chunks import ChunkingParams, chunk_document
from .ingest.document import Document, read_report
from .model.embedder import Embedder
from .errors import IndexStoreError, QuestionError
from .ask.extractor import Extractor
from .store.index import Index, expected_manifest
from .ask.retriever import MODES, Retriever
from .schema import Answer, Passage

PACKAGE_DIR = Path(__file__).parent
BUNDLED_REPORT = PACKAGE_DIR / "data" / "henan-2024-government-work-report.txt"
MAX_QUESTION_CHARS = 500
MAX_K = 50
log = logging.getLogger(__name__)


def default_index_dir() -> Path:
    """`index/` beside the package in a checkout, else the user's cache."""
    if os.environ.get("REPORT_QA_INDEX"):
        return Path(os.environ["REPORT_QA_INDEX"])
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").exists():
        return checkout / "index"
    from .model.embedder import cache_dir
    return cache_dir() / "index"


def clean_question(question) -> str:
    """The question with control characters removed; QuestionError if nothing is left to ask."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty: please type a question about the report.")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text):,} characters long; please keep it under "
                            f"{MAX_QUESTION_CHARS} characters (one question at a time).")
    return text


class ReportQA:
    def __init__(self, doc: Document, index: Index, embedder: Embedder):
        self.doc, self.index, self.embedder = doc, index, embedder
        self.retriever = Retriever(index, embedder)
        self.extractor = Extractor(doc, index.sentence_vectors, embedder, index.glossary)

    @property
    def text(self) -> str:
        """The cleaned report text that every offset points into."""
        return self.doc.text

    @classmethod
    def load(cls, report: str | Path | None = None, index_dir: str | Path | None = None,
             model: str | None = None, rebuild: bool = False, progress: bool = True) -> "ReportQA":
        """Open a report with its index, building the index when it is missing, stale or damaged."""
        doc = read_report(report or BUNDLED_REPORT)
        params = ChunkingParams()
        chunks = chunk_document(doc, params)
        embedder = Embedder(model)
        root = Path(index_dir) if index_dir else default_index_dir()
        index = None if rebuild else _usable(root, expected_manifest(doc, chunks, embedder.model_id, params))
        if index is None:
            index = Index.build(doc, chunks, embedder, params, progress=progress)
            index.save(root)
        return cls(doc, index, embedder)

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        query = clean_question(query)
        return self.retriever.retrieve(query, k=_check_k(k), mode=mode)

    def ask(self, question: str, k: int = 5, mode: str = "hybrid") -> Answer:
        question = clean_question(question)
        qvec = self.embedder.query(question)
        passages = self.retriever.retrieve(question, k=_check_k(k), mode=mode, qvec=qvec)
        return self.extractor.answer(question, qvec, passages)


def _check_k(k) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise QuestionError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}.")
    return k


def _usable(root: Path, expected: dict) -> Index | None:
    try:
        index = Index.load(root)
    except IndexStoreError as e:
        if (root / "CURRENT").exists():
            log.warning("%s Rebuilding it.", e)
        return None
    if not index.matches(expected):
        log.info("The index in %s was built from another report, model or chunking; rebuilding it.", root)
        return None
    return index


__all__ = ["ReportQA", "MODES", "clean_question"]
