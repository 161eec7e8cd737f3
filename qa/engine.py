"""ReportQA: the one facade that the CLI, the web chat and the evaluation use.

    qa = ReportQA.load()                 # the default library (the bundled report); built on first use
    qa.ask("技术合同成交额增长了多少？")
    qa.add("hubei-2025.pdf")             # then ask it, or all of them
    qa.compare("经济增长预期目标是多少？")   # one answer per report
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import unicodedata
from pathlib import Path

from .errors import QuestionError, ReportError
from .ask.cover import answer_from_cover
from .ask.extractor import NOT_FOUND, Calibrator, Extractor
from .ask.question import Question
from .ask.retriever import MODES, Retriever
from .ingest.chunks import ChunkingParams
from .ingest.readers import read_text
from .figures import Figure
from .library import Library
from .model.embedder import CHECKED_RANKS, Embedder, cache_dir
from .schema import Answer, Passage, Report

PACKAGE_DIR = Path(__file__).parent
BUNDLED_REPORT = PACKAGE_DIR / "data" / "henan-2024-government-work-report.txt"
BUNDLED_ID = "henan-2024"
MAX_QUESTION_CHARS = 500
MAX_K = 50
EMPTY_LIBRARY = "The library has no reports: add one with `python -m qa add FILE` (.txt, .pdf or .docx)."
log = logging.getLogger(__name__)


def default_library_dir() -> Path:
    """REPORT_QA_LIBRARY, else `index/` beside the package in a checkout, else the user's cache."""
    for var in ("REPORT_QA_LIBRARY", "REPORT_QA_INDEX"):
        if os.environ.get(var):
            return Path(os.environ[var])
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").exists():
        return checkout / "index"
    return cache_dir() / "library"


def clean_question(question) -> str:
    """The question with control characters removed; QuestionError if nothing is left to ask."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    if len(question) > 4 * MAX_QUESTION_CHARS:
        # Measured before cleaning, so a 10-million-character paste is refused without being walked.
        raise _too_long(len(question))
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty: please type a question about the report.")
    if len(text) > MAX_QUESTION_CHARS:
        raise _too_long(len(text))
    return text


def _too_long(n: int) -> QuestionError:
    return QuestionError(f"The question is {n:,} characters long; please keep it under "
                         f"{MAX_QUESTION_CHARS} characters (one question at a time).")


class _Reader:
    """What answering needs from one generation of the library; replaced whole when the library changes."""

    def __init__(self, library: Library, calibration: dict | None = None):
        self.index = library.index
        self.docs = {e.report.id: e.doc for e in library.entries}
        years = {rid: doc.year for rid, doc in self.docs.items()}
        self.retriever = Retriever(self.index, library.embedder, report_years=years)
        self.extractor = Extractor(self.docs, self.index, library.embedder,
                                   Calibrator(params=calibration) if calibration else None)

    def figures(self, report: str) -> list[Figure]:
        """The report's key figures, as the answer step reads them (extracted once per snapshot)."""
        return self.extractor.view(report).table.figures


class ReportQA:
    def __init__(self, library: Library):
        self.library = library
        # Questions read a snapshot (_Reader) and never wait for an add: the library changes under
        # _writing (held through the embedding), and the snapshot is swapped in one assignment.
        self._writing = threading.Lock()
        self._calibration: dict | None = None
        self._reader = _Reader(library) if library.entries else None

    @classmethod
    def load(cls, library: str | Path | None = None, report: str | Path | None = None,
             index_dir: str | Path | None = None, model: str | None = None, rebuild: bool = False,
             progress: bool = True, store: str | None = None) -> "ReportQA":
        """Open a library, building or repairing its index where needed.  `report=` alone opens a
        library of just that report (kept in the cache, keyed by the report's path).  `store=` (or
        REPORT_QA_STORE) keeps the library in Milvus instead of FAISS: a Milvus Lite `.db` file or a
        server's `http://host:19530`; `library=` then names it there."""
        embedder = Embedder(model)
        store = store or os.environ.get("REPORT_QA_STORE") or None
        if store and store != "faiss":
            from .store.milvus import MilvusLibrary, check_uri
            lib = MilvusLibrary(check_uri(store), embedder, ChunkingParams(),
                                name=Path(library).name if library else "report_qa")
            lib.open(seeds=[Path(report)] if report else [], progress=progress)
        else:
            root = Path(library or index_dir or (_single_report_dir(report) if report else default_library_dir()))
            lib = Library(root, embedder, ChunkingParams())
            # A library named by the user starts empty; the default one (or a legacy index_dir) holds the bundled report.
            lib.open(seeds=[Path(report)] if report else ([] if library else [BUNDLED_REPORT]), progress=progress)
        if report:
            _only(lib, Path(report), progress)
        if rebuild and lib.entries:
            lib.rebuild(progress=progress)
        return cls(lib)

    # -- the library ---------------------------------------------------------
    def reports(self) -> list[Report]:
        """The library's reports as they are now (another process may have added or removed one)."""
        self._sync()
        return self.library.reports

    def add(self, path: str | Path, progress: bool = True) -> Report:
        with self._writing:
            report = self.library.add([path], progress=progress)[0]
            self._refresh()
        return report

    def remove(self, report_id: str) -> Report:
        with self._writing:
            gone = self.library.remove(report_id)
            self._refresh()
        return gone

    def _refresh(self) -> None:
        self._reader = _Reader(self.library, self._calibration) if self.library.entries else None

    def text_of(self, report_id: str) -> str:
        self._sync()
        return self.library.entry(report_id).doc.text

    @property
    def text(self) -> str:
        """The text of the only report, else of the bundled one, that single-report offsets point into."""
        ids = [r.id for r in self.reports()]
        if not ids:
            raise ReportError(EMPTY_LIBRARY)
        return self.text_of(BUNDLED_ID if BUNDLED_ID in ids else ids[0])

    def use_calibration(self, params: dict | None) -> None:
        """Answer with other fitted weights (calibration.json's form; None: the shipped ones).  The
        evaluation uses it to measure each report with weights fitted on the other reports."""
        with self._writing:
            self._calibration = params
            self._refresh()

    @property
    def embedder(self):
        return self.library.embedder

    @property
    def index(self):
        return self.reader().index

    @property
    def retriever(self) -> Retriever:
        return self.reader().retriever

    @property
    def extractor(self) -> Extractor:
        return self.reader().extractor

    # -- asking --------------------------------------------------------------
    def reader(self) -> _Reader:
        """The current generation: another process may have added or removed a report since."""
        self._sync()
        reader = self._reader
        if reader is None:
            raise ReportError(EMPTY_LIBRARY)
        return reader

    def _sync(self) -> None:
        """Open the library again if another process has changed it."""
        if self.library.changed():
            with self._writing:
                if self.library.changed():
                    self.library.open(progress=False)
                    self._refresh()

    def question(self, text: str) -> Question:
        return self.reader().retriever.question(clean_question(text))

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               report: str | list[str] | None = None) -> list[Passage]:
        r = self.reader()
        q = r.retriever.question(clean_question(query))
        return _ranked(r, q, k, mode, self._scope(r, q, report))[1]

    def ask(self, question: str, k: int = 5, mode: str = "hybrid",
            report: str | list[str] | None = None) -> Answer:
        """A verbatim answer with its citation, from `report` (an id, or several), else from the reports
        the question names by place and year, else from every report."""
        r = self.reader()
        q = r.retriever.question(clean_question(question))
        scope = self._scope(r, q, report)
        missing = _missing_places(q, r.docs) if report is None else []
        if missing:
            return Answer(q.text, False, "", message=f"{NOT_FOUND} (the library has no report about "
                          f"{'/'.join(missing)}; its reports: {', '.join(sorted(r.docs))})")
        covered = answer_from_cover(q, r.docs, scope)
        if covered is not None:
            return _asked(covered, scope or set(r.docs))
        qvec, passages = _ranked(r, q, k, mode, scope)
        return _asked(r.extractor.answer(q, qvec, passages), scope)

    def figures(self, report: str | None = None) -> list[Figure]:
        """Every figure the report states (all reports' by default), each with its citation."""
        r = self.reader()
        ids = [report] if report else list(r.docs)
        for rid in ids:
            self.library.entry(rid)         # a clear error for an unknown id
        return [f for rid in ids for f in r.figures(rid)]

    def compare(self, question: str, reports: list[str] | None = None, k: int = 5) -> list[Answer]:
        """The same question asked of each report (all of them by default): one answer per report."""
        ids = reports or list(self.reader().docs)
        return [self.ask(question, k=k, report=rid) for rid in ids]

    def _scope(self, r: _Reader, q: Question, report: str | list[str] | None) -> set[str] | None:
        """The reports to answer from: those asked for; else those the question names by place and
        year, as a reader would expect; else all."""
        if report is not None:
            ids = [report] if isinstance(report, str) else list(report)
            if any(not isinstance(rid, str) or not rid.strip() for rid in ids):
                # The HTTP API's "" means every report; in Python that is report=None.
                raise QuestionError("A report must be named by its id; to ask every report, pass report=None.")
            for rid in ids:
                self.library.entry(rid)      # a clear error for an unknown id
            if not ids:
                raise QuestionError("Pick at least one report to ask.")
            return set(ids)
        if len(r.docs) == 1:
            return None
        return _named_reports(q, r.docs) or None


def _asked(answer: Answer, scope: set[str] | None) -> Answer:
    """A not-found answer still says which report was asked, when it was one."""
    if not answer.report and scope and len(scope) == 1:
        answer.report = next(iter(scope))
    return answer


def _missing_places(q: Question, docs: dict) -> list[str]:
    """The provinces a question names when no report of a library of several is about any of them
    (a province's report speaks of the country, so the country is never missing)."""
    named = [reg for reg in q.regions if reg.code != "national"]
    if len(docs) < 2 or not named or any(d.meta.region_code in {reg.code for reg in named} for d in docs.values()):
        return []
    return [reg.zh[0] for reg in named]


def _named_reports(q: Question, docs: dict) -> set[str]:
    regions = {reg.code for reg in q.regions}
    years = q.explicit_years
    by_place = {rid for rid, d in docs.items() if d.meta.region_code in regions} if regions else set(docs)
    if not regions and not years:
        return set()
    # A year picks the report that plans it, or the one after it that reviews it.
    by_year = {rid for rid in by_place if docs[rid].year in years} or \
              {rid for rid in by_place if docs[rid].year and docs[rid].year - 1 in years}
    return (by_year if years else by_place) or by_place


def _single_report_dir(report: str | Path) -> Path:
    try:
        digest = hashlib.sha256(Path(report).resolve().as_posix().encode()).hexdigest()[:16]
    except OSError:
        digest = "unknown"
    return cache_dir() / "reports" / digest


def _only(lib: Library, report: Path, progress: bool) -> None:
    """Make the library hold exactly `report` (a library opened for one report, as the single-report
    engine's index was rebuilt when its report changed)."""
    digest = hashlib.sha256(read_text(report).encode("utf-8")).hexdigest()
    for other in [r.id for r in lib.reports if r.sha256 != digest]:
        lib.remove(other)
    lib.add([report], progress=progress)


def _ranked(r, q: Question, k: int, mode: str, scope) -> tuple:
    """The question's vector and its top `k` passages; the embedder checks the ranking down to
    CHECKED_RANKS (int8 query vectors are redone in fp32 when it is a close call)."""
    k = _check_k(k)
    qvec, passages = r.retriever.embedder.ranked(q.text, lambda v: r.retriever.retrieve(
        q, k=max(k, CHECKED_RANKS), mode=mode, qvec=v, reports=scope))
    return qvec, passages[:k]


def _check_k(k) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise QuestionError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}.")
    return k


__all__ = ["ReportQA", "MODES", "clean_question", "MAX_K", "MAX_QUESTION_CHARS"]
