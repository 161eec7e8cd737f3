"""Answer: pick the sentence that answers, cut it to the smallest span that says it, verify it, cite it.

Nothing is generated: the answer is a span of a report.  A figure question
("多少", "目标", "how many") gets the clause with the figure; any other
question gets the sentence; who / when / which-meeting questions and "what is
part two about" are answered from the cover and the headings.  Whether to
answer at all is a calibrated probability over a few signals (features.py,
calibration.json), and then a verification that the span states what was asked
(verify.py).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ingest.document import Document
from ..language.vocabulary import Vocabulary, stated
from ..model.embedder import Embedder
from ..schema import Answer, Citation, Passage
from ..store.base import Store
from .features import ACCEPT, CLAUSE, RANK, ReportView, accept_features, figure_missing, has_figure, rank_features
from .question import Question
from .verify import verify

CANDIDATE_PASSAGES = 4
# Sentences the key-figures table proposes beyond the retrieved passages: its best rows per report.
TABLE_CANDIDATES = 2
CLAUSE_FIGURE_BONUS = 0.25
CONCEPT_BONUS = 0.5
ENGLISH_CLAUSE_COVERAGE = 0.1   # translated words sharpen the dense match, which spans ~0.1
# An answer whose probability of being right is below this is declined, not shown as unsure: on the
# dev sets (gold held out per report, dev traps and dialogues) answers under 0.3 were right 9 of 27
# times, those from 0.3 to 0.4 20 of 34; held out on the test sets, 1 of 20 under 0.3.
RIGHT_FLOOR = 0.3
NOT_FOUND = "报告中没有找到答案。The report does not say; the closest passages are below."
# The signals of how often a given answer is right (see Calibrator.right).
RIGHT = ["logit", "margin", "table_match", "table_absent", "dense", "coverage"]


def right_features(raw: float, feats: dict) -> dict:
    """The accept model's probability as a log-odds, with the accept signals that say most about
    whether an answer given is the right one."""
    raw = min(max(raw, 1e-6), 1 - 1e-6)
    return {"logit": math.log(raw / (1 - raw)), **{k: feats[k] for k in RIGHT[1:]}}
CALIBRATION = Path(__file__).with_name("calibration.json")
FEATURES, ACCEPT_FEATURES = RANK, ACCEPT       # the names eval/calibrate.py fits


def _logit(weights: dict, feats: dict) -> float:
    return weights.get("bias", 0.0) + sum(weights.get(k, 0.0) * v for k, v in feats.items())


@dataclass
class Candidate:
    report: str
    sentence: int            # in its report
    rank: int                # of the passage it came from
    feats: dict
    score: float = 0.0


class Calibrator:
    """Two logistic models fitted by eval/calibrate.py, one set per language: `rank` scores candidate
    sentences, `accept` says whether the best one answers at all."""

    def __init__(self, path: Path = CALIBRATION, params: dict | None = None):
        self.params = params or json.loads(path.read_text(encoding="utf-8"))

    def rank_score(self, lang: str, feats: dict) -> float:
        return _logit(self.params[lang]["rank"], feats)

    def confidence(self, lang: str, feats: dict) -> float:
        return 1.0 / (1.0 + math.exp(-_logit(self.params[lang]["accept"], feats)))

    def threshold(self, lang: str) -> float:
        return self.params[lang]["threshold"]

    def right(self, lang: str, feats: dict) -> float:
        """The probability that an answer given is right: the accept model says whether the report
        answers at all, this (fitted on held-out outcomes, eval/calibrate.py) how often answers with
        these signals were right.  Without a fit, the accept model's own probability."""
        weights = self.params[lang].get("right")
        raw = self.confidence(lang, feats)
        if not weights:
            return raw
        return 1.0 / (1.0 + math.exp(-_logit(weights, right_features(raw, feats))))


class Extractor:
    def __init__(self, docs: dict[str, Document], index: Store, embedder: Embedder,
                 calibrator: Calibrator | None = None):
        self.docs, self.index, self.embedder = docs, index, embedder
        self.calibrator = calibrator or Calibrator()
        self._views: dict[str, ReportView] = {}
        self._clause_vectors: dict[str, np.ndarray] = {}

    def view(self, report: str) -> ReportView:
        if report not in self._views:
            self._views[report] = ReportView(report, self.docs[report])
        return self._views[report]

    def carry(self, earlier: "Extractor") -> None:
        """Keep the views and clause vectors of an earlier generation for the reports whose text is
        unchanged, and build the views of the others now: a view takes 0.2-0.5 s (its words, headings
        and figure table), and the first questions after an add or a removal paid it, many at once
        (ask p95 while an editor worked was 4-7x idle).  Views no question needed are not built."""
        self._clause_vectors = earlier._clause_vectors
        for rid, view in earlier._views.items():
            if rid in self.docs and self.docs[rid].text == view.doc.text:
                self._views[rid] = view
        for rid, doc in self.docs.items():      # an added (or replaced) report is asked right away
            if rid not in earlier.docs or earlier.docs[rid].text != doc.text:
                self.view(rid).table

    # -- candidates ------------------------------------------------------------
    def candidates(self, q: Question, qvec: np.ndarray, passages: list[Passage]) -> list[Candidate]:
        out, seen = [], set()
        for rank, p in enumerate(passages[:CANDIDATE_PASSAGES]):
            view = self.view(p.report)
            for i in view.sentences_in(p.chunk.start, p.chunk.end):
                # A topic heading names what a list or an explanation is about; it is not one.
                if (p.report, i) in seen or i in view.section_heads or i in view.frame or \
                        q.wants_explanation and i in view.headings:
                    continue
                seen.add((p.report, i))
                out.append(self._candidate(q, qvec, view, i, rank))
        out += self._from_table(q, qvec, passages, seen)
        top = max((c.feats["dense"] for c in out), default=0.0)
        for c in out:
            c.feats["dense_gap"] = c.feats["dense"] - top
            c.score = self.calibrator.rank_score(q.lang, c.feats)
        return sorted(self._with_figures(q, out), key=lambda c: -c.score)

    def _candidate(self, q: Question, qvec: np.ndarray, view: ReportView, i: int, rank: int) -> Candidate:
        dense = float(self.index.sentence_vector(view.report, i) @ qvec)
        return Candidate(view.report, i, rank, rank_features(view, q, i, rank, dense))

    def _from_table(self, q: Question, qvec: np.ndarray, passages: list[Passage], seen: set) -> list[Candidate]:
        """The sentences of the table rows that name what a figure question asks, where retrieval
        missed them (ranked after every retrieved passage)."""
        out = []
        for report in dict.fromkeys(p.report for p in passages[:CANDIDATE_PASSAGES]):
            view = self.view(report)
            for _, fig in view.table.rows(q)[:TABLE_CANDIDATES]:
                i = view.sentence_at(fig.start)
                if (report, i) not in seen and i not in view.frame:
                    seen.add((report, i))
                    out.append(self._candidate(q, qvec, view, i, CANDIDATE_PASSAGES))
        return out

    def _with_figures(self, q: Question, cands: list[Candidate]) -> list[Candidate]:
        """An amount question is never answered by a sentence without a figure, while one has one."""
        if not q.wants_amount:
            return cands
        stating = [c for c in cands if not figure_missing(q, self.view(c.report).sentence_text(c.sentence))]
        return stating or cands

    # -- span ------------------------------------------------------------------
    def span(self, q: Question, view: ReportView, sentence: int) -> tuple[int, int]:
        """The clause that best matches a figure question, else the whole sentence."""
        s = view.doc.sentences[sentence]
        text = view.sentence_text(sentence)
        if not q.wants_figure or q.wants_explanation:
            return s.start, s.end
        _, row = view.table.row(q, sentence)
        if row is not None:
            return view.table.span(row)          # the table's row quotes the clause that states it
        clauses = [(m.start(), m.end()) for m in CLAUSE.finditer(text.rstrip("。！？”"))]
        if len(clauses) < 2:
            return s.start, s.end
        a, b = self._best_clause(q, view, text, clauses)
        return s.start + a, s.start + b

    def _best_clause(self, q: Question, view: ReportView, text: str,
                     clauses: list[tuple[int, int]]) -> tuple[int, int]:
        pieces = [text[a:b] for a, b in clauses]
        if q.lang == "zh":
            # What is asked ("比重是多少") counts twice.
            match = [view.coverage(list(q.own_words) + q.focus, p) for p in pieces]
        else:
            vecs = self._clause_vectors.get(text)
            if vecs is None:     # embedded once per sentence; a report has a few hundred
                vecs = self._clause_vectors[text] = self.embedder.passages(pieces)
            match = list(vecs @ self.embedder.query(q.text)
                         + ENGLISH_CLAUSE_COVERAGE * np.array([view.coverage(q.words, p) for p in pieces]))
        # A clause that states a term the question names, in its words or others (固投: 固定资产投资;
        # "economic growth": 经济增长), is what is asked about.
        topical = Vocabulary.topical(q.concepts)
        match = [m + CONCEPT_BONUS * sum(stated(c, p) for c in topical) for m, p in zip(match, pieces)]
        # A figure question wants a figure: prefer a clause that has one; an amount question needs one.
        figures = [has_figure(p) for p in pieces]
        amount = q.wants_amount and any(figures)
        scores = [m + CLAUSE_FIGURE_BONUS * f - (amount and not f) * 9 for m, f in zip(match, figures)]
        return clauses[int(np.argmax(scores))]

    # -- answer ----------------------------------------------------------------
    def decide(self, q: Question, qvec: np.ndarray, passages: list[Passage]):
        """The best candidate, its span, the accept signals and confidence (for answering and calibrating)."""
        cands = self.candidates(q, qvec, passages)
        if not cands:
            return None
        best = cands[0]
        view = self.view(best.report)
        a, b = self.span(q, view, best.sentence)
        feats = accept_features(view, q, best, cands[1] if len(cands) > 1 else None, view.doc.text[a:b],
                                self.index.glossary)
        return best, (a, b), feats, self.calibrator.confidence(q.lang, feats)

    def answer(self, q: Question, qvec: np.ndarray, passages: list[Passage]) -> Answer:
        decided = self.decide(q, qvec, passages)
        if decided is None:
            return Answer(q.text, False, "", passages=passages, message=NOT_FOUND)
        best, (a, b), feats, confidence = decided
        if confidence < self.calibrator.threshold(q.lang):
            return Answer(q.text, False, "", passages=passages, confidence=confidence, message=NOT_FOUND)
        view = self.view(best.report)
        problems = verify(q, view, best.sentence, (a, b))
        if problems:
            return Answer(q.text, False, "", passages=passages, confidence=confidence,
                          message=f"{NOT_FOUND} ({'; '.join(problems)})")
        right = self.calibrator.right(q.lang, feats)
        if right < RIGHT_FLOOR:
            return Answer(q.text, False, "", passages=passages, confidence=right,
                          message=f"{NOT_FOUND} (too unsure: right with probability {right:.2f})")
        return Answer(q.text, True, view.doc.text[a:b], [self.cite(view, best.sentence, (a, b), passages)],
                      passages, right)

    def cite(self, view: ReportView, sentence: int, span: tuple[int, int], passages: list[Passage]) -> Citation:
        s = view.doc.sentences[sentence]
        para = view.doc.paragraphs[s.paragraph]
        chunk = next((p.chunk_id for p in passages if p.report == view.report
                      and p.chunk.start <= s.start < p.chunk.end), -1)
        return Citation(view.report, para.path, view.sentence_text(sentence), s.start, s.end, chunk, *span)
