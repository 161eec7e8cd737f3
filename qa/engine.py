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
from dataclasses import replace
import unicodedata
from pathlib import Path

from .errors import QuestionError, ReportError
from .ask import examples
from .ask.conversation import Resolver, Turn
from .ask.extractor import NOT_FOUND, Calibrator, Extractor
from .ask.kinds import Context, dispatch
from .ask.question import Question
from .ask.retriever import MODES, Retriever
from .ask.scope import Scope, route
from .ingest.pipeline import Source, read
from .figures import Figure
from .store.base import Library
from .store.catalog import Change
from .store.factory import FAISS, library as library_for
from .model.cache import cache_dir
from .writer import write
from .model.embedder import CHECKED_RANKS, Embedder
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
        raise QuestionError("The question must be text.", code="not_text")
    if len(question) > 4 * MAX_QUESTION_CHARS:
        # Measured before cleaning, so a 10-million-character paste is refused without being walked.
        raise _too_long(len(question))
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty: please type a question about the report.", code="empty_question")
    if len(text) > MAX_QUESTION_CHARS:
        raise _too_long(len(text))
    return text


def _too_long(n: int) -> QuestionError:
    return QuestionError(f"The question is {n:,} characters long; please keep it under "
                         f"{MAX_QUESTION_CHARS} characters (one question at a time).", code="question_too_long",
                         chars=n, limit=MAX_QUESTION_CHARS)


class _Reader:
    """What answering needs from one generation of the library; replaced whole when the library changes."""

    def __init__(self, library: Library, calibration: dict | None = None):
        self.index = library.index
        self.docs = {e.report.id: e.doc for e in library.entries}
        years = {rid: doc.year for rid, doc in self.docs.items()}
        self.retriever = Retriever(self.index, library.embedder, report_years=years)
        self.extractor = Extractor(self.docs, self.index, library.embedder,
                                   Calibrator(params=calibration) if calibration else None)
        self.resolver = Resolver(self.retriever.question, self.docs)
        self.examples: list[str] | None = None      # ReportQA.examples(), once per generation

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
        server's `http://host:19530`; `library=` then names it there (a plain name, not a path)."""
        embedder = Embedder(model)
        store = store or os.environ.get("REPORT_QA_STORE") or None
        if store and store != FAISS:
            lib = library_for(store, embedder, name=str(library) if library else None)
            lib.open(seeds=[Path(report)] if report else [], progress=progress)
        else:
            root = Path(library or index_dir or (_single_report_dir(report) if report else default_library_dir()))
            lib = library_for(FAISS, embedder, root=root)
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

    def add(self, path: str | Path | Source, progress: bool = True, user: str = "cli", replace: bool = False,
            keep_both: bool = False, apart: bool = False) -> Report:
        """Add a report file (or one already read with qa.ingest.pipeline.read); the same text again
        gives the report already there.  A report with the title and year of one in the library but
        another text raises SameTitleError unless `replace` or `keep_both` says what to do.  `user`
        goes into the change log.  `apart`: write in a child process at low priority (writer.py)
        where the store allows it, so that the questions this process answers meanwhile keep their
        speed (a server's choice)."""
        address = self.library.address() if apart and not isinstance(path, Source) else None
        with self._writing:
            if address is None:
                report = self.library.add([path], progress=progress, user=user, replace=replace,
                                          keep_both=keep_both)[0]
            else:
                report = write(address, self._model(), "add", progress, path=str(Path(path).resolve()),
                               user=user, replace=replace, keep_both=keep_both)
                self.library.open(progress=False)
            self._refresh()
        return report

    def remove(self, report_id: str, user: str = "cli", apart: bool = False) -> Report:
        """Remove a report (`apart` as for add)."""
        address = self.library.address() if apart else None
        with self._writing:
            if address is None:
                gone = self.library.remove(report_id, user=user)
            else:
                gone = write(address, self._model(), "remove", id=report_id, user=user)
                self.library.open(progress=False)
            self._refresh()
        return gone

    def _model(self) -> str | None:
        """The model as a child process names it (None: the default)."""
        return None if getattr(self.embedder, "default", True) else self.embedder.model_id

    def log(self) -> list[Change]:
        """Every change made to the library (added, removed: when, by whom, which file), oldest first."""
        return self.library.log()

    def original_of(self, report_id: str) -> Path | None:
        """The file the report was added from (PDF, .docx or .txt), when the store keeps it (the FAISS
        library does; a Milvus library does not, and gives None)."""
        self._sync()
        return self.library.original_of(report_id)

    def _refresh(self) -> None:
        """The next generation's reader, ready before questions see it (see Extractor.carry)."""
        reader = _Reader(self.library, self._calibration) if self.library.entries else None
        if reader is not None and self._reader is not None:
            reader.extractor.carry(self._reader.extractor)
        self._reader = reader

    def text_of(self, report_id: str) -> str:
        self._sync()
        return self.library.text_of(report_id)

    @property
    def text(self) -> str:
        """The text of the only report, else of the bundled one, that single-report offsets point into."""
        ids = [r.id for r in self.reports()]
        if not ids:
            raise ReportError(EMPTY_LIBRARY, code="empty_library")
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
            raise ReportError(EMPTY_LIBRARY, code="empty_library")
        return reader

    def _sync(self) -> None:
        """Open the library again if another process has changed it.  While a writer of this process is
        at work (waiting for another process's lock, embedding, writing), questions do not wait for it:
        they are answered from the current generation, and the writer brings in the other process's
        change before it writes (an /ask once waited 47.8 s behind an upload)."""
        if self.library.changed() and self._writing.acquire(blocking=False):
            try:
                if self.library.changed():
                    self.library.open(progress=False)
                    self._refresh()
            finally:
                self._writing.release()

    def question(self, text: str) -> Question:
        return self.reader().retriever.question(clean_question(text))

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               report: str | list[str] | None = None) -> list[Passage]:
        r = self.reader()
        q = r.retriever.question(clean_question(query))
        scope = route_or_all(r, q, self._picked(report))
        return _ranked(r, q, k, mode, set(scope.reports) if scope.reports else None)[1]

    def ask(self, question: str, k: int = 5, mode: str = "hybrid",
            report: str | list[str] | None = None, history: list | None = None) -> Answer:
        """A verbatim answer with its citation, from `report` (an id, or several), else from the reports
        the question names by place and year, else from those of the turn before, else from every
        report.  `history` holds the conversation's earlier turns, oldest first: Answers this method
        returned, or the questions as strings (the two give the same result).  A follow-up
        ("那去年呢？") is resolved from them into a standalone question, `Answer.resolved`."""
        r = self.reader()
        text = clean_question(question)
        _check_k(k)
        _check_mode(mode)
        picked = self._picked(report)
        turn = r.resolver.turn(text, self._turns(r, history, picked), picked)
        return self._answer(r, turn, k, mode)

    def examples(self) -> list[str]:
        """Example questions this library answers, each asked (and its answer sure) before it is
        offered; worked out once per generation of the library."""
        r = self.reader()
        cached = getattr(r, "examples", None)
        if cached is None:
            cached = r.examples = examples.verified(self.ask, self.reports(), BUNDLED_ID)
        return list(cached)

    def chat(self, report: str | list[str] | None = None) -> "Conversation":
        """A conversation: each question may follow up on the ones before it."""
        return Conversation(self, report)

    def _turns(self, r: _Reader, history: list | None, picked: list[str] | None) -> list[Turn]:
        turns: list[Turn] = []
        for h in history or []:
            if isinstance(h, Answer):
                q = r.retriever.question(h.resolved or h.question)
                scope = Scope(tuple(x for x in h.scope if x in r.docs), picked=bool(picked))
                turns.append(Turn(h.question, h.resolved or h.question, q, scope, h.reason))
            elif isinstance(h, str):
                turn = r.resolver.turn(clean_question(h), turns, picked)
                if turn.alternatives:
                    # Which reading was answered decides what the next follow-up leans on, as an
                    # Answer in the history would say.
                    said = self._answer(r, turn, 5, "hybrid").resolved
                    turn = replace(turn, resolved=said, q=r.retriever.question(said), alternatives=())
                turns.append(turn)
            else:
                raise QuestionError("history holds the earlier turns: Answers or question strings.",
                                    code="bad_history")
        return turns

    def _answer(self, r: _Reader, turn: Turn, k: int, mode: str) -> Answer:
        scope = turn.scope
        if turn.reason:
            message = turn.message if turn.reason in ("no_content", "orphan_follow_up") else \
                f"{NOT_FOUND} ({turn.message})"
            return Answer(turn.question, False, "", message=message, reason=turn.reason, resolved=turn.resolved,
                          scope=list(scope.reports))
        answer, resolved = self._routed(r, turn.q, scope, k, mode), turn.resolved
        for other in turn.alternatives if not answer.found else ():
            # Another reading of the follow-up, asked of the same reports.
            alt = self._routed(r, r.retriever.question(other), scope, k, mode)
            if alt.found:
                answer, resolved = alt, other
                break
        answer.question, answer.resolved, answer.scope = turn.question, resolved, list(scope.reports)
        return answer

    def _routed(self, r: _Reader, q: Question, scope: Scope, k: int, mode: str) -> Answer:
        if scope.several:
            # A question that named no one report goes to each: every report's answer shows, the
            # best first, rather than one report's chosen silently.
            answers = [self._one(r, q, Scope((rid,), picked=scope.picked), k, mode) for rid in scope.reports]
            return _best_first(answers, scope)
        return self._one(r, q, scope, k, mode)

    def _one(self, r: _Reader, q: Question, scope: Scope, k: int, mode: str) -> Answer:
        reports = set(scope.reports) if scope.reports and len(scope.reports) < len(r.docs) else None
        ctx = Context(q, scope, r.docs, r.extractor, lambda: _ranked(r, q, k, mode, reports))
        return _asked(dispatch(ctx), scope.reports)

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

    def _picked(self, report: str | list[str] | None) -> list[str] | None:
        """The reports the caller asked for, checked; None when the question decides."""
        if report is None:
            return None
        ids = [report] if isinstance(report, str) else list(report)
        if any(not isinstance(rid, str) or not rid.strip() for rid in ids):
            # The HTTP API's "" means every report; in Python that is report=None.
            raise QuestionError("A report must be named by its id; to ask every report, pass report=None.",
                                code="bad_report_id")
        for rid in ids:
            self.library.entry(rid)      # a clear error for an unknown id
        if not ids:
            raise QuestionError("Pick at least one report to ask.", code="no_report_picked")
        return ids


class Conversation:
    """A chat: each question may follow up on the ones before (qa.chat().ask("那去年呢？"))."""

    def __init__(self, qa: ReportQA, report: str | list[str] | None = None):
        self.qa, self.report = qa, report
        self.history: list[Answer] = []

    def ask(self, question: str, **kwargs) -> Answer:
        answer = self.qa.ask(question, report=kwargs.pop("report", self.report), history=self.history, **kwargs)
        self.history.append(answer)
        return answer

    def reset(self) -> None:
        self.history.clear()


MULTI_NOTE = ("问题没有指明报告，下面是每份报告的答案。The question named no report: each report's answer is "
              "shown, best first.")


def route_or_all(r: _Reader, q: Question, picked: list[str] | None) -> Scope:
    """Where a search goes: as a question would, but never nowhere (a search lists what is closest)."""
    scope = route(q, r.docs, picked)
    return scope if scope.reports else Scope(tuple(r.docs))


def _best_first(answers: list[Answer], scope: Scope) -> Answer:
    """One answer per report, found ones first by confidence: the best leads, the rest are `others`."""
    ranked = sorted(answers, key=lambda a: (not a.found, -a.confidence))
    best = ranked[0]
    if best.found:
        best.others = ranked[1:]
        best.message = MULTI_NOTE
        return best
    return Answer(best.question, False, "", message=f"{NOT_FOUND} (none of the {len(answers)} reports asked says)",
                  reason="not_stated", others=ranked, scope=list(scope.reports))


def _asked(answer: Answer, scope) -> Answer:
    """A not-found answer still says which report was asked, when it was one."""
    if not answer.report and scope and len(scope) == 1:
        answer.report = next(iter(scope))
    return answer


def _single_report_dir(report: str | Path) -> Path:
    try:
        digest = hashlib.sha256(Path(report).resolve().as_posix().encode()).hexdigest()[:16]
    except OSError:
        digest = "unknown"
    return cache_dir() / "reports" / digest


def _only(lib: Library, report: Path, progress: bool) -> None:
    """Make the library hold exactly `report` (a library opened for one report, as the single-report
    engine's index was rebuilt when its report changed)."""
    source = read(report)
    for other in [r.id for r in lib.reports if r.sha256 != source.sha256]:
        lib.remove(other)
    lib.add([source], progress=progress)


def _ranked(r, q: Question, k: int, mode: str, scope) -> tuple:
    """The question's vector and its top `k` passages; the embedder checks the ranking down to
    CHECKED_RANKS (int8 query vectors are redone in fp32 when it is a close call)."""
    k = _check_k(k)
    qvec, passages = r.retriever.embedder.ranked(q.text, lambda v: r.retriever.retrieve(
        q, k=max(k, CHECKED_RANKS), mode=mode, qvec=v, reports=scope))
    return qvec, passages[:k]


def _check_mode(mode) -> str:
    if mode not in MODES:
        raise QuestionError(f"Unknown retrieval mode {mode!r}: choose one of {', '.join(MODES)}.", code="bad_mode")
    return mode


def _check_k(k) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise QuestionError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}.", code="bad_k")
    return k


__all__ = ["ReportQA", "MODES", "clean_question", "MAX_K", "MAX_QUESTION_CHARS"]
