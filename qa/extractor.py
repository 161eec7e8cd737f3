"""Answer: pick the sentence that answers, cut it to the smallest span that says it, cite it.

Nothing is generated: the answer is a span of the report.  A figure question
("多少", "目标", "how many") gets the clause with the figure; any other
question gets the sentence.  Whether to answer at all is a calibrated
probability over a few signals (see calibration.json beside this file).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .document import Document
from .embedder import Embedder
from .index import sentence_context
from .schema import Answer, Citation, Passage
from .segmenter import content_words, words

FIGURE_QUESTION = re.compile(
    r"多少|几[个家项条所万亿%％倍]?|目标|比例|比重|占比|增速|增幅|幅度|百分|产量|规模|数量|总量|排名|第几|达到|"
    r"how (many|much)|what (percentage|share|proportion|rate|number)|\btarget|\bgrowth\b|\brate\b|\bnumber\b|"
    r"\bpercent|\bfigure\b|\bhow (fast|large|big|high)", re.I)
YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
DIGIT = re.compile(r"\d")
CJK = re.compile(r"[\u4e00-\u9fff]")
CLAUSE = re.compile(r"[^，；：]+")
CANDIDATE_PASSAGES = 4
CALIBRATION = Path(__file__).with_name("calibration.json")


def is_chinese(text: str) -> bool:
    return len(CJK.findall(text)) >= 2


@dataclass
class Candidate:
    sentence: int
    rank: int
    dense: float
    coverage: float
    score: float = 0.0


class Calibrator:
    """A logistic model over answer signals, fitted on the gold set (eval/calibrate.py)."""

    def __init__(self, path: Path = CALIBRATION):
        self.params = json.loads(path.read_text(encoding="utf-8"))

    def features(self, lang: str, best: Candidate, top_dense: float, year_mismatch: bool) -> list[float]:
        return [best.dense, best.coverage if lang == "zh" else 0.0, top_dense, float(year_mismatch)]

    def confidence(self, lang: str, feats: list[float]) -> float:
        p = self.params[lang]
        z = p["bias"] + sum(w * f for w, f in zip(p["weights"], feats))
        return 1.0 / (1.0 + math.exp(-z))

    def threshold(self, lang: str) -> float:
        return self.params[lang]["threshold"]


class Extractor:
    def __init__(self, doc: Document, sentence_vectors: np.ndarray, embedder: Embedder,
                 calibrator: Calibrator | None = None):
        self.doc, self.vectors, self.embedder = doc, sentence_vectors, embedder
        self.calibrator = calibrator or Calibrator()
        self.contexts = [sentence_context(doc, i) for i in range(len(doc.sentences))]
        df: dict[str, int] = {}
        for ctx in self.contexts:
            for w in set(words(ctx)):
                df[w] = df.get(w, 0) + 1
        n = len(self.contexts)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.unseen_idf = math.log((n + 1) / 0.5)

    # -- signals -------------------------------------------------------------
    def coverage(self, qwords: list[str], text: str) -> float:
        """Share of the question's idf mass whose words the text contains."""
        if not qwords:
            return 0.0
        have = set(words(text))
        weights = [self.idf.get(w, self.unseen_idf) for w in qwords]
        hit = sum(wt for w, wt in zip(qwords, weights) if w in have or (len(w) > 1 and w in text))
        return hit / sum(weights)

    def year_mismatch(self, question: str, sentence: int) -> bool:
        """The question names a year that neither the sentence nor its part speaks of."""
        years = set(YEAR.findall(question))
        if not years:
            return False
        s = self.doc.sentences[sentence]
        para = self.doc.paragraphs[s.paragraph]
        known = set(YEAR.findall(self.doc.text[s.start:s.end] + para.part))
        return not (years & known)

    def candidates(self, question: str, qvec: np.ndarray, passages: list[Passage]) -> list[Candidate]:
        lang = "zh" if is_chinese(question) else "en"
        qwords = content_words(question)
        seen, out = set(), []
        for rank, p in enumerate(passages[:CANDIDATE_PASSAGES]):
            for i in self._sentences_in(p.chunk.start, p.chunk.end):
                if i in seen:
                    continue
                seen.add(i)
                cov = self.coverage(qwords, self.contexts[i]) if lang == "zh" else 0.0
                out.append(Candidate(i, rank, float(self.vectors[i] @ qvec), cov))
        figure = bool(FIGURE_QUESTION.search(question))
        w = self.calibrator.params[lang]["rank"]
        for c in out:
            text = self.doc.text[self.doc.sentences[c.sentence].start:self.doc.sentences[c.sentence].end]
            c.score = (w["dense"] * c.dense + w["coverage"] * c.coverage - w["rank"] * c.rank
                       + w["figure"] * (figure and bool(DIGIT.search(text)))
                       - w["year"] * self.year_mismatch(question, c.sentence))
        return sorted(out, key=lambda c: -c.score)

    def _sentences_in(self, start: int, end: int) -> list[int]:
        first = self.doc.sentences.index(self.doc.sentence_at(start))
        out = []
        for i in range(first, len(self.doc.sentences)):
            if self.doc.sentences[i].start >= end:
                break
            out.append(i)
        return out

    # -- span ----------------------------------------------------------------
    def span(self, question: str, sentence: int) -> tuple[int, int]:
        """The clause with the figure for figure questions, else the whole sentence."""
        s = self.doc.sentences[sentence]
        text = self.doc.text[s.start:s.end]
        if not FIGURE_QUESTION.search(question):
            return s.start, s.end
        clauses = [(m.start(), m.end()) for m in CLAUSE.finditer(text.rstrip("。！？”"))
                   if DIGIT.search(m.group())]
        if not clauses:
            return s.start, s.end
        if len(clauses) > 1:
            clauses = self._rank_clauses(question, text, clauses)
        a, b = clauses[0]
        return s.start + a, s.start + b

    def _rank_clauses(self, question: str, text: str, clauses: list[tuple[int, int]]):
        if is_chinese(question):
            qwords = content_words(question)
            scores = [self.coverage(qwords, text[a:b]) for a, b in clauses]
        else:
            vecs = self.embedder.passages([text[a:b] for a, b in clauses])
            scores = list(vecs @ self.embedder.query(question))
        order = sorted(range(len(clauses)), key=lambda i: -scores[i])
        return [clauses[i] for i in order]

    # -- answer --------------------------------------------------------------
    def answer(self, question: str, qvec: np.ndarray, passages: list[Passage]) -> Answer:
        lang = "zh" if is_chinese(question) else "en"
        cands = self.candidates(question, qvec, passages)
        if not cands:
            return Answer(question, False, "", passages=passages,
                          message="The report has nothing close to this question.")
        best = cands[0]
        top_dense = max((p.dense or 0.0) for p in passages)
        feats = self.calibrator.features(lang, best, top_dense, self.year_mismatch(question, best.sentence))
        confidence = self.calibrator.confidence(lang, feats)
        if confidence < self.calibrator.threshold(lang):
            return Answer(question, False, "", passages=passages, confidence=confidence,
                          message="The report does not say. The closest passages are below.")
        a, b = self.span(question, best.sentence)
        s = self.doc.sentences[best.sentence]
        chunk = passages[best.rank].chunk
        para = self.doc.paragraphs[s.paragraph]
        citation = Citation(para.path, self.doc.text[s.start:s.end], s.start, s.end,
                            chunk.chunk_id, a, b)
        return Answer(question, True, self.doc.text[a:b], [citation], passages, confidence)
