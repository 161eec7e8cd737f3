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
from .glossary import Glossary
from .schema import Answer, Citation, Passage
from .segmenter import content_words, is_chinese, words

FIGURE_QUESTION = re.compile(
    r"多少|几[个家项条所万亿%％倍]?|目标|比例|比重|占比|增速|增幅|幅度|百分|产量|规模|数量|总量|排名|第几|达到|"
    r"how (many|much)|what (percentage|share|proportion|rate|number)|\btarget|\bgrowth\b|\brate\b|\bnumber\b|"
    r"\bpercent|\bfigure\b|\bhow (fast|large|big|high)", re.I)
# Asks for an amount: the answer must then state one.
AMOUNT_QUESTION = re.compile(r"多少|(?<!哪)几[个家项条所万亿倍次届辆人]|百分之几|第几|how (many|much)|by how much|"
                             r"what (percentage|share|proportion)", re.I)
FIGURE = re.compile(r"\d|[一二三四五六七八九十两][十百千万亿]")
ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+")
DATE = re.compile(r"(?:19|20)\d\d\s*年|\d{1,2}\s*[月日]")
UNIT = re.compile(r"多少(亿元|万元|[\u4e00-\u9fff])")
GENERIC_UNITS = set("是呢啊吗年")
# Asks for reasons, ways or lists: the answer is the sentence, even when a figure is mentioned.
EXPLAIN_QUESTION = re.compile(r"为什么|为何|怎么|怎样|如何|哪些|哪几|why|how (?!many|much|fast|large|big|high|long)", re.I)
# Places and people (jieba's ns/nr tags): naming one the report never mentions is asking about something else.
NAME_TAGS = ("ns", "nr")
YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
DIGIT = re.compile(r"\d")
CLAUSE = re.compile(r"[^，；：]+")
CANDIDATE_PASSAGES = 4
CLAUSE_FIGURE_BONUS = 0.25
ENGLISH_CLAUSE_COVERAGE = 0.1   # translated words sharpen the dense match, which spans ~0.1
NOT_FOUND = "报告中没有找到答案。The report does not say; the closest passages are below."
CALIBRATION = Path(__file__).with_name("calibration.json")


RELATIVE_YEARS = {"今年": 0, "this year": 0, "去年": -1, "上年": -1, "过去一年": -1, "last year": -1,
                  "明年": 1, "next year": 1}
FEATURES = ["dense", "dense_gap", "coverage", "sentence_coverage", "clause_coverage", "rank",
            "figure_match", "year_mismatch", "type_match"]
# Who and when questions want a person or a date: the sentence that has one is likelier the answer.
WHO_QUESTION = re.compile(r"谁|哪位|\bwho\b", re.I)
WHEN_QUESTION = re.compile(r"什么时候|何时|哪天|几月|日期|\bwhen\b|what date|which day", re.I)
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
        df: dict[str, int] = {}
        for ctx in self.contexts:
            for w in set(words(ctx)):
                df[w] = df.get(w, 0) + 1
        n = len(self.contexts)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.unseen_idf = math.log((n + 1) / 0.5)
        years = YEAR.findall(doc.title)
        self.year = int(years[0]) if years else None

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

    def question_words(self, question: str) -> list[str]:
        """The words to look for: the question's own, or the glossary's Chinese for an English one."""
        own = content_words(question) if is_chinese(question) else []
        translated = self.glossary.translate(" ".join(w for w in own if w not in self.idf) if own else question)
        return list(dict.fromkeys(own + [w for w in translated if w in self.idf]))

    @staticmethod
    def type_match(question: str, text: str) -> bool:
        if WHO_QUESTION.search(question):
            import jieba.posseg
            return any(w.flag == "nr" for w in jieba.posseg.cut(text))
        return bool(WHEN_QUESTION.search(question) and DATE.search(text))

    @staticmethod
    def figure_missing(question: str, text: str) -> bool:
        """An amount is asked for ("多少", "第几", "how many") and the sentence states none (dates don't count)."""
        if not AMOUNT_QUESTION.search(question):
            return False
        figure = ORDINAL if "第几" in question else FIGURE
        return not figure.search(DATE.sub("", text))

    def unknown_name(self, question: str) -> bool:
        """The question names a place or person that the report never mentions."""
        if not is_chinese(question):
            return self.glossary.names_elsewhere(question)
        import jieba.posseg
        return any(len(w.word) > 1 and w.flag in NAME_TAGS and w.word not in self.doc.text
                   for w in jieba.posseg.cut(question))

    def known_words(self, qwords: list[str]) -> float:
        """Share of the question's words that occur anywhere in the report."""
        return sum(w in self.idf for w in qwords) / len(qwords) if qwords else 0.0

    def question_years(self, question: str) -> set[int]:
        years = {int(y) for y in YEAR.findall(question)}
        if self.year:
            low = question.lower()
            years |= {self.year + d for phrase, d in RELATIVE_YEARS.items() if phrase in low}
        return years

    def year_mismatch(self, years: set[int], sentence: int) -> bool:
        """The question names a year that neither the sentence nor its part speaks of."""
        if not years:
            return False
        para = self.doc.paragraphs[self.doc.sentences[sentence].paragraph]
        known = {int(y) for y in YEAR.findall(self.sentence_text(sentence) + para.part)}
        return not (years & known)

    def clause_coverage(self, qwords: list[str], text: str) -> float:
        return max((self.coverage(qwords, m.group()) for m in CLAUSE.finditer(text)), default=0.0)

    def candidates(self, question: str, qvec: np.ndarray, passages: list[Passage]) -> list[Candidate]:
        lang = "zh" if is_chinese(question) else "en"
        qwords, years = self.question_words(question), self.question_years(question)
        figure = bool(FIGURE_QUESTION.search(question))
        out, seen = [], set()
        for rank, p in enumerate(passages[:CANDIDATE_PASSAGES]):
            for i in self._sentences_in(p.chunk.start, p.chunk.end):
                if i in seen:
                    continue
                seen.add(i)
                text = self.sentence_text(i)
                out.append(Candidate(i, rank, {
                    "dense": float(self.vectors[i] @ qvec),
                    "coverage": self.coverage(qwords, self.contexts[i]),
                    "sentence_coverage": self.coverage(qwords, text),
                    "clause_coverage": self.clause_coverage(qwords, text),
                    "rank": float(rank),
                    "figure_match": float(figure and bool(DIGIT.search(text))),
                    "year_mismatch": float(self.year_mismatch(years, i)),
                    "type_match": float(self.type_match(question, text)),
                }))
        top = max((c.feats["dense"] for c in out), default=0.0)
        for c in out:
            c.feats["dense_gap"] = c.feats["dense"] - top
            c.score = self.calibrator.rank_score(lang, c.feats)
        return sorted(out, key=lambda c: -c.score)

    def accept_features(self, question: str, cands: list[Candidate]) -> dict:
        best = cands[0]
        qwords = self.question_words(question)
        text = self.sentence_text(best.sentence)
        unit = UNIT.search(question)
        return {"score": best.score, "dense": best.feats["dense"], "coverage": best.feats["coverage"],
                "known_words": self.known_words(qwords) if is_chinese(question) else 0.0,
                "year_mismatch": best.feats["year_mismatch"],
                "margin": best.score - cands[1].score if len(cands) > 1 else 1.0,
                # An amount asked for and none stated, or stated in another unit, is no answer.
                "figure_missing": float(self.figure_missing(question, text)),
                "unknown_name": float(self.unknown_name(question)),
                "unit_missing": float(bool(unit) and unit.group(1)[0] not in GENERIC_UNITS
                                      and unit.group(1) not in self.doc.text[slice(*self.span(question, best.sentence))])}

    def _sentences_in(self, start: int, end: int) -> list[int]:
        first = self.sentence_index[self.doc.sentence_at(start).start]
        out = []
        for i in range(first, len(self.doc.sentences)):
            if self.doc.sentences[i].start >= end:
                break
            out.append(i)
        return out

    # -- span ----------------------------------------------------------------
    def span(self, question: str, sentence: int) -> tuple[int, int]:
        """The clause that best matches a figure question, else the whole sentence."""
        s = self.doc.sentences[sentence]
        text = self.sentence_text(sentence)
        if not FIGURE_QUESTION.search(question) or EXPLAIN_QUESTION.search(question):
            return s.start, s.end
        clauses = [(m.start(), m.end()) for m in CLAUSE.finditer(text.rstrip("。！？”"))]
        if len(clauses) < 2:
            return s.start, s.end
        a, b = self._best_clause(question, text, clauses)
        return s.start + a, s.start + b

    def _best_clause(self, question: str, text: str, clauses: list[tuple[int, int]]) -> tuple[int, int]:
        pieces = [text[a:b] for a, b in clauses]
        if is_chinese(question):
            own = content_words(question)
            # The last word before "多少" names what is asked ("比重是多少"): it counts twice.
            focus = [w for w in own if len(w) > 1][-1:]
            match = [self.coverage(own + focus, p) for p in pieces]
        else:
            qwords = self.question_words(question)
            vecs = self.embedder.passages(pieces)
            match = list(vecs @ self.embedder.query(question)
                         + ENGLISH_CLAUSE_COVERAGE * np.array([self.coverage(qwords, p) for p in pieces]))
        # A figure question wants a figure: prefer a clause that has one; an amount question needs one.
        amount = bool(AMOUNT_QUESTION.search(question)) and any(DIGIT.search(p) for p in pieces)
        scores = [m + CLAUSE_FIGURE_BONUS * bool(DIGIT.search(p)) - (amount and not DIGIT.search(p)) * 9
                  for m, p in zip(match, pieces)]
        return clauses[int(np.argmax(scores))]

    # -- answer --------------------------------------------------------------
    def answer(self, question: str, qvec: np.ndarray, passages: list[Passage]) -> Answer:
        lang = "zh" if is_chinese(question) else "en"
        cands = self.candidates(question, qvec, passages)
        if not cands:
            return Answer(question, False, "", passages=passages, message=NOT_FOUND)
        confidence = self.calibrator.confidence(lang, self.accept_features(question, cands))
        if confidence < self.calibrator.threshold(lang):
            return Answer(question, False, "", passages=passages, confidence=confidence, message=NOT_FOUND)
        best = cands[0]
        a, b = self.span(question, best.sentence)
        s = self.doc.sentences[best.sentence]
        para = self.doc.paragraphs[s.paragraph]
        citation = Citation(para.path, self.sentence_text(best.sentence), s.start, s.end,
                            passages[best.rank].chunk_id, a, b)
        return Answer(question, True, self.doc.text[a:b], [citation], passages, confidence)
