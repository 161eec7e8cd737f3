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

import jieba.posseg
import numpy as np

from ..ingest.document import Document
from ..model.embedder import Embedder
from ..language.glossary import Glossary
from ..store.index import sentence_context
from .question import Question, report_year, years_in
from ..schema import Answer, Citation, Passage
from ..language.segmenter import words

FIGURE = re.compile(r"\d|[一二三四五六七八九十两][十百千万亿]")
ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+")
DATE = re.compile(r"(?:19|20)\d\d\s*年|\d{1,2}\s*[月日]")
DIGIT = re.compile(r"\d")
CLAUSE = re.compile(r"[^，；：]+")
# Places and people (jieba's ns/nr tags): naming one the report never mentions is asking about something else.
NAME_TAGS = ("ns", "nr")
CANDIDATE_PASSAGES = 4
CLAUSE_FIGURE_BONUS = 0.25
ENGLISH_CLAUSE_COVERAGE = 0.1   # translated words sharpen the dense match, which spans ~0.1
NOT_FOUND = "报告中没有找到答案。The report does not say; the closest passages are below."
CALIBRATION = Path(__file__).with_name("calibration.json")
FEATURES = ["dense", "dense_gap", "coverage", "sentence_coverage", "clause_coverage", "rank",
            "figure_match", "year_mismatch", "type_match", "heading"]
ACCEPT_FEATURES = ["score", "dense", "coverage", "known_words", "year_mismatch", "margin",
                   "figure_missing", "unit_missing", "unknown_name"]


def _logit(weights: dict, feats: dict) -> float:
    return weights.get("bias", 0.0) + sum(weights.get(k, 0.0) * v for k, v in feats.items())


@dataclass
class Candidate:
    sentence: int
    rank: int
    feats: dict
    score: float = 0.0


class Calibrator:
    """Two logistic models fitted on the gold set by eval/calibrate.py, one set per language:
    `rank` scores candidate sentences, `accept` says whether the best one answers at all."""

    def __init__(self, path: Path = CALIBRATION):
        self.params = json.loads(path.read_text(encoding="utf-8"))

    def rank_score(self, lang: str, feats: dict) -> float:
        return _logit(self.params[lang]["rank"], feats)

    def confidence(self, lang: str, feats: dict) -> float:
        return 1.0 / (1.0 + math.exp(-_logit(self.params[lang]["accept"], feats)))

    def threshold(self, lang: str) -> float:
        return self.params[lang]["threshold"]


class Extractor:
    def __init__(self, doc: Document, sentence_vectors: np.ndarray, embedder: Embedder,
                 glossary: Glossary, calibrator: Calibrator | None = None):
        self.doc, self.vectors, self.embedder, self.glossary = doc, sentence_vectors, embedder, glossary
        self.calibrator = calibrator or Calibrator()
        self.contexts = [sentence_context(doc, i) for i in range(len(doc.sentences))]
        self.sentence_index = {s.start: i for i, s in enumerate(doc.sentences)}
        # A paragraph's lead ("新能源汽车产业集群。") names a topic; it rarely answers by itself.
        self.headings = {i for i, s in enumerate(doc.sentences)
                         if s.start == doc.paragraphs[s.paragraph].start
                         and doc.text[s.start:s.end].rstrip("。") in (doc.paragraphs[s.paragraph].lead,
                                                                    doc.paragraphs[s.paragraph].section)}
        df: dict[str, int] = {}
        for ctx in self.contexts:
            for w in set(words(ctx)):
                df[w] = df.get(w, 0) + 1
        n = len(self.contexts)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.unseen_idf = math.log((n + 1) / 0.5)
        self._clause_vectors: dict[str, np.ndarray] = {}
        jieba.posseg.lcut("河南")      # load the tagger now, not on the first question
        self.year = report_year(doc.title)

    def sentence_text(self, i: int) -> str:
        s = self.doc.sentences[i]
        return self.doc.text[s.start:s.end]

    # -- signals -------------------------------------------------------------
    def coverage(self, qwords: list[str], text: str) -> float:
        """Share of the question's idf mass whose words the text contains."""
        if not qwords:
            return 0.0
        have = set(words(text))
        weights = [self.idf.get(w, self.unseen_idf) for w in qwords]
        hit = sum(wt for w, wt in zip(qwords, weights) if w in have or (len(w) > 1 and w in text))
        return hit / sum(weights)

    def question(self, text: str) -> Question:
        return Question.parse(text, self.glossary, self.idf, self.year)

    @staticmethod
    def type_match(q: Question, text: str) -> bool:
        """A who question and a sentence naming a person; a when question and a date."""
        if q.wants_person:
            return any(w.flag == "nr" for w in jieba.posseg.cut(text))
        return q.wants_date and bool(DATE.search(text))

    @staticmethod
    def figure_missing(q: Question, text: str) -> bool:
        """An amount is asked for ("多少", "第几", "how many") and the sentence states none (dates don't count)."""
        if not q.wants_amount:
            return False
        figure = ORDINAL if "第几" in q.text else FIGURE
        return not figure.search(DATE.sub("", text))

    def unknown_name(self, q: Question) -> bool:
        """The question names a place or person that the report never mentions."""
        if q.lang == "en":
            return self.glossary.names_elsewhere(q.text)
        return any(len(w.word) > 1 and w.flag in NAME_TAGS and w.word not in self.doc.text
                   for w in jieba.posseg.cut(q.text))

    def known_words(self, q: Question) -> float:
        """Share of a Chinese question's words that occur anywhere in the report."""
        if q.lang == "en" or not q.words:
            return 0.0
        return sum(w in self.idf for w in q.words) / len(q.words)

    def year_mismatch(self, years: frozenset[int], sentence: int) -> bool:
        """The question names a year that neither the sentence nor its part speaks of."""
        if not years:
            return False
        para = self.doc.paragraphs[self.doc.sentences[sentence].paragraph]
        return not (years & years_in(self.sentence_text(sentence) + para.part))

    def clause_coverage(self, qwords: list[str], text: str) -> float:
        return max((self.coverage(qwords, m.group()) for m in CLAUSE.finditer(text)), default=0.0)

    def candidates(self, q: Question, qvec: np.ndarray, passages: list[Passage]) -> list[Candidate]:
        out, seen = [], set()
        for rank, p in enumerate(passages[:CANDIDATE_PASSAGES]):
            for i in self._sentences_in(p.chunk.start, p.chunk.end):
                # A topic heading names what a list or an explanation is about; it is not one.
                if i in seen or (q.wants_explanation and i in self.headings):
                    continue
                seen.add(i)
                text = self.sentence_text(i)
                out.append(Candidate(i, rank, {
                    "dense": float(self.vectors[i] @ qvec),
                    "coverage": self.coverage(q.words, self.contexts[i]),
                    "sentence_coverage": self.coverage(q.words, text),
                    "clause_coverage": self.clause_coverage(q.words, text),
                    "rank": float(rank),
                    "figure_match": float(q.wants_figure and bool(DIGIT.search(text))),
                    "year_mismatch": float(self.year_mismatch(q.years, i)),
                    "type_match": float(self.type_match(q, text)),
                    "heading": float(i in self.headings),
                }))
        top = max((c.feats["dense"] for c in out), default=0.0)
        for c in out:
            c.feats["dense_gap"] = c.feats["dense"] - top
            c.score = self.calibrator.rank_score(q.lang, c.feats)
        return sorted(out, key=lambda c: -c.score)

    def accept_features(self, q: Question, cands: list[Candidate]) -> dict:
        best = cands[0]
        return {"score": best.score, "dense": best.feats["dense"], "coverage": best.feats["coverage"],
                "known_words": self.known_words(q),
                "year_mismatch": best.feats["year_mismatch"],
                "margin": best.score - cands[1].score if len(cands) > 1 else 1.0,
                # An amount asked for and none stated, or stated in another unit, is no answer.
                "figure_missing": float(self.figure_missing(q, self.sentence_text(best.sentence))),
                "unknown_name": float(self.unknown_name(q)),
                "unit_missing": float(bool(q.unit) and q.unit not in self.doc.text[slice(*self.span(q, best.sentence))])}

    def _sentences_in(self, start: int, end: int) -> list[int]:
        first = self.sentence_index[self.doc.sentence_at(start).start]
        out = []
        for i in range(first, len(self.doc.sentences)):
            if self.doc.sentences[i].start >= end:
                break
            out.append(i)
        return out

    # -- span ----------------------------------------------------------------
    def span(self, q: Question, sentence: int) -> tuple[int, int]:
        """The clause that best matches a figure question, else the whole sentence."""
        s = self.doc.sentences[sentence]
        text = self.sentence_text(sentence)
        if not q.wants_figure or q.wants_explanation:
            return s.start, s.end
        clauses = [(m.start(), m.end()) for m in CLAUSE.finditer(text.rstrip("。！？”"))]
        if len(clauses) < 2:
            return s.start, s.end
        a, b = self._best_clause(q, text, clauses)
        return s.start + a, s.start + b

    def _best_clause(self, q: Question, text: str, clauses: list[tuple[int, int]]) -> tuple[int, int]:
        pieces = [text[a:b] for a, b in clauses]
        if q.lang == "zh":
            # What is asked ("比重是多少") counts twice.
            match = [self.coverage(q.own_words + q.focus, p) for p in pieces]
        else:
            vecs = self._clause_vectors.get(text)
            if vecs is None:     # embedded once per sentence; a report has a few hundred
                vecs = self._clause_vectors[text] = self.embedder.passages(pieces)
            match = list(vecs @ self.embedder.query(q.text)
                         + ENGLISH_CLAUSE_COVERAGE * np.array([self.coverage(q.words, p) for p in pieces]))
        # A figure question wants a figure: prefer a clause that has one; an amount question needs one.
        amount = q.wants_amount and any(DIGIT.search(p) for p in pieces)
        scores = [m + CLAUSE_FIGURE_BONUS * bool(DIGIT.search(p)) - (amount and not DIGIT.search(p)) * 9
                  for m, p in zip(match, pieces)]
        return clauses[int(np.argmax(scores))]

    # -- answer --------------------------------------------------------------
    def answer(self, question: str, qvec: np.ndarray, passages: list[Passage]) -> Answer:
        q = self.question(question)
        cands = self.candidates(q, qvec, passages)
        if not cands:
            return Answer(question, False, "", passages=passages, message=NOT_FOUND)
        confidence = self.calibrator.confidence(q.lang, self.accept_features(q, cands))
        if confidence < self.calibrator.threshold(q.lang):
            return Answer(question, False, "", passages=passages, confidence=confidence, message=NOT_FOUND)
        best = cands[0]
        a, b = self.span(q, best.sentence)
        s = self.doc.sentences[best.sentence]
        para = self.doc.paragraphs[s.paragraph]
        citation = Citation(para.path, self.sentence_text(best.sentence), s.start, s.end,
                            passages[best.rank].chunk_id, a, b)
        return Answer(question, True, self.doc.text[a:b], [citation], passages, confidence)
