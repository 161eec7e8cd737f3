"""The things that flow through the pipeline: plain dataclasses, JSON-ready."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit: consecutive sentences of one paragraph, never crossing a section."""
    chunk_id: int
    text: str
    start: int              # offsets of `text` in the cleaned report text
    end: int
    section: str            # section path, "三、… › （二）…"
    lead: str               # the paragraph's topic sentence, if it has one
    report: str             # the id of the report it comes from; offsets point into that report's text
    paragraph: int

    @property
    def context(self) -> str:
        """What is embedded and indexed: the headings above the chunk, then its text."""
        heads = [self.section] + ([self.lead] if self.lead and not self.text.startswith(self.lead) else [])
        return " › ".join(h for h in heads if h) + "\n" + self.text

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores (higher is better)."""
    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def section(self) -> str:
        return self.chunk.section

    @property
    def chunk_id(self) -> int:
        return self.chunk.chunk_id

    @property
    def report(self) -> str:
        return self.chunk.report

    def to_dict(self) -> dict:
        return {"chunk_id": self.chunk_id, "report": self.report, "text": self.text, "section": self.section,
                "start": self.chunk.start, "end": self.chunk.end, "score": self.score,
                "dense": self.dense, "lexical": self.lexical}


@dataclass(frozen=True)
class Citation:
    """Where an answer stands in its report: `quote == text_of(report)[start:end]`."""
    report: str              # the report's id in the library
    section: str
    quote: str
    start: int
    end: int
    chunk_id: int
    span_start: int          # the answer span inside the report text
    span_end: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    """A report in the library, as `qa.reports()` lists it."""
    id: str                  # "henan-2024": region and year, unique in the library
    title: str               # "2024年河南省政府工作报告"
    region: str              # as the report names its government ("河南", "全国")
    year: int | None         # the year it plans (今年)
    date: str                # delivered on, "2024-01-28", or ""
    speaker: str
    chars: int               # characters of the cleaned text
    sha256: str              # of the text as read: the same report added twice is recognised
    source: str = ""         # the file it was added from
    chunks: int = 0
    sentences: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    """What a question gets: a verbatim span with its citation, or a decline that says why.

    found: `text` is a span of the report `report`, cited by `citations[0]`, and `reason` is "";
    not found: `text` is "" and `reason` is a code (`message` says it in words).  `resolved` is the
    standalone question that was answered: the question itself, or a follow-up with what it carried
    from the conversation ("那去年呢？" -> "2023年经济增长了多少？").  `scope` lists the reports asked;
    `others` holds the other reports' answers, best first, when a question that named no report went
    to several (empty when one report was asked)."""
    question: str
    found: bool
    text: str                # a verbatim span of the report, "" when not found
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    confidence: float = 0.0  # the probability that the answer is right (calibrated held out)
    message: str = ""        # why nothing was found, or how the question was read, for the user
    report: str = ""         # the report it quotes; when nothing was found, the one report asked, if one
    resolved: str = ""       # the standalone question answered; "" is taken as `question`
    scope: list[str] = field(default_factory=list)
    others: list["Answer"] = field(default_factory=list)
    reason: str = ""         # a decline's code: "not_stated", "no_content", "orphan_follow_up", ...

    def __post_init__(self):
        if not self.report and self.citations:
            self.report = self.citations[0].report
        if not self.resolved:
            self.resolved = self.question
        if self.found and not (self.text and self.citations):
            raise ValueError("a found answer has its text and a citation")
        if not self.found:
            self.text = ""
            self.reason = self.reason or "not_stated"
        else:
            self.reason = ""

    @property
    def carried(self) -> bool:
        """The question was a follow-up: something was carried into it from earlier turns."""
        return self.resolved != self.question

    def to_dict(self) -> dict:
        return {"question": self.question, "resolved": self.resolved, "found": self.found, "text": self.text,
                "report": self.report, "confidence": self.confidence, "message": self.message,
                "reason": self.reason, "scope": list(self.scope),
                "citations": [c.to_dict() for c in self.citations],
                "passages": [p.to_dict() for p in self.passages],
                "others": [o.to_dict() for o in self.others]}
