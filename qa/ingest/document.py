"""Parse: turn a report's text, in whatever layout it came, into clean text with its structure.

Reports come in two layouts.  A PDF's text layer wraps every line at a fixed
width (a paragraph's first line is indented, its last line is short); a .docx,
a web reprint or Wikisource gives one paragraph per line, padded with blank
lines, full-width indents or zero-width spaces.  The layout is told apart by
how many lines run to the same full width; then the report's own markers
(一、 parts, （一） sections, 1. items, 各位代表 addresses, topic sentences)
recover the structure, and the cover lines (title, date and meeting, speaker,
a newspaper's 来源 line) give the metadata.

Every visible character of the source is kept, in order: only whitespace and
invisible format characters (zero-width spaces, BOMs) are dropped or re-laid.
"""
from __future__ import annotations

import bisect
import hashlib
import re
import statistics
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReportError
from .metadata import Metadata, read_metadata
from .readers import read_text

SEPARATOR = " › "
SENTENCE_END = "。！？!?"
CLOSERS = "”’」』）)"
NUMERALS = "一二三四五六七八九十"
PART_RE = re.compile(rf"^[{NUMERALS}]+[、．.]")
SECTION_RE = re.compile(rf"^[（(][{NUMERALS}]+[）)]")
ITEM_RE = re.compile(r"^(?:\d{1,2}[.．、](?!\d)|[（(]\d{1,2}[）)])")
# "一是…二是…" paragraphs enumerate the topics of a part, as （一）（二） sections do elsewhere.
ORDINAL_RE = re.compile(rf"^[{NUMERALS}]+是")
# A section opened by a paragraph's lead runs on until the speaker steps back to the whole part
# ("一年来，我们…", "同时，我们也清醒认识到…", "与此同时，其他各方面工作…").
TRANSITION_RE = re.compile(r"^(?:一年来|过去一年|过去五年|五年来|回顾|同时|与此同时|在肯定成绩|总的看|总体看|"
                           r"我们也|当前|今年|这些成绩)")
ADDRESS_RE = re.compile(r"^各位代表[！，：!:,]")
# An unnumbered heading that names a whole part ("2024年工作回顾" where the 一、 was dropped) or an
# appendix, after which numbered headings belong to the appendix.
PART_WORDS = re.compile(r"工作回顾|工作安排|总体要求|目标任务|重点工作|重点任务|工作任务|主要任务|自身建设")
APPENDIX_RE = re.compile(r"^(?:名词解释|注释|附件|附录|附表)")
# A lead sentence is a short topic statement that opens a paragraph.
LEAD_RE = re.compile(r"^[^，。；：！？!?]{4,30}[。！!]")
SENTENCE_RE = re.compile(rf"[^{SENTENCE_END}]*(?:[{SENTENCE_END}]+[{CLOSERS}]*|$)")
INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")
# A standalone heading is short; a longer line without a final stop is a paragraph broken in two.
HEADING_MAX = 60
# A cover (title, date, speaker, a newspaper's lines) is a few lines; the bundled report's is 3, those
# of reports/ at most 6 (national 2021: a title broken in two, office and name on two lines).
COVER_MAX_LINES = 12
# PDF layout: how far (in em) below a full line a line falls when it ends a paragraph,
# opens one (the two-em indent), or is a heading.
SHORT_LINE_SLACK = 1.5
INDENT_SLACK = 1.0
HEADING_SLACK = 4.0
# Share of lines at the full width above which the text is hard-wrapped (the bundled PDF text: 0.8;
# one paragraph per line: under 0.1 on every report of reports/).
WRAPPED_SHARE = 0.5


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    kind: str                 # "title" (a cover line), "part", "section", "item" (a heading) or "body"
    part: str = ""
    section: str = ""
    lead: str = ""            # the opening topic sentence, without its 。
    item: str = ""            # a numbered heading below a section ("1.医疗卫生方面")

    @property
    def path(self) -> str:
        return SEPARATOR.join(p for p in (self.part, self.section, self.item) if p)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    paragraph: int


@dataclass
class Document:
    text: str
    paragraphs: list[Paragraph]
    sentences: list[Sentence]
    title: str
    sha256: str
    source: str = ""
    meta: Metadata = field(default_factory=Metadata)
    _sentence_starts: list[int] = field(default_factory=list, repr=False)

    @property
    def year(self) -> int | None:
        """The report's own year, the year it plans: what 今年 means in it."""
        return self.meta.year

    def sentence_at(self, offset: int) -> Sentence:
        """The sentence that contains character `offset` of the text."""
        if not self._sentence_starts:
            self._sentence_starts = [s.start for s in self.sentences]
        i = bisect.bisect_right(self._sentence_starts, offset) - 1
        return self.sentences[max(i, 0)]

    def paragraph_text(self, i: int) -> str:
        p = self.paragraphs[i]
        return self.text[p.start:p.end]


def line_width(line: str) -> float:
    """Printed width in em: CJK characters are one em, Latin glyphs about half."""
    return sum(0.5 if ch.isascii() else 1.0 for ch in line
               if unicodedata.category(ch) != "Cc")


def ends_sentence(line: str) -> bool:
    return bool(line) and line.rstrip(CLOSERS)[-1:] in SENTENCE_END + "：；:;"


def _opens_block(line: str) -> bool:
    return bool(PART_RE.match(line) or SECTION_RE.match(line) or ADDRESS_RE.match(line))


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines; only a Latin word break loses a space in the PDF."""
    out = ""
    for line in lines:
        if out and out[-1].isascii() and out[-1].isalpha() and line[0].isascii() and line[0].isalpha():
            out += " "
        out += line
    return out


def clean_lines(raw: str) -> list[str]:
    """The non-empty lines, without surrounding whitespace (full-width indents included)."""
    lines = (INVISIBLE.sub("", ln).strip() for ln in raw.splitlines())
    return [ln for ln in lines if ln]


def _first_body_line(lines: list[str]) -> int:
    """Cover lines come before the opening address (各位代表：), or else before the first sentence;
    each of them stands alone.  A cover line may end in a full stop ("…作政府工作报告。")."""
    address = next((i for i, ln in enumerate(lines[:COVER_MAX_LINES]) if ADDRESS_RE.match(ln)), None)
    if address is not None:
        return address
    return next((i for i, ln in enumerate(lines) if ends_sentence(ln)), len(lines))


def _full_width(lines: list[str]) -> float:
    wrapped = [line_width(ln) for ln in lines if not ends_sentence(ln)] or [line_width(ln) for ln in lines]
    return statistics.median(wrapped)


def is_hard_wrapped(lines: list[str]) -> bool:
    """Most lines of a PDF's text run to one full width; paragraphs one per line vary freely."""
    if len(lines) < 10:
        return False
    full = _full_width(lines)
    at_full = sum(abs(line_width(ln) - full) <= SHORT_LINE_SLACK for ln in lines)
    return at_full / len(lines) >= WRAPPED_SHARE


def _breaks_after(line: str, nxt: str, full: float) -> bool:
    """Does a paragraph end after `line`, given the next line and the full line width?"""
    if not ends_sentence(line):
        # Only a heading ends without punctuation; wrapped lines run to the margin.
        return line_width(line) < full - HEADING_SLACK
    next_indented = line_width(nxt) < full - INDENT_SLACK and not ends_sentence(nxt)
    return line_width(line) < full - SHORT_LINE_SLACK or _opens_block(nxt) or next_indented


def _unwrap(lines: list[str]) -> list[str]:
    """Paragraphs of hard-wrapped lines (PDF layout)."""
    full = _full_width(lines)
    paragraphs, current = [], []
    for i, line in enumerate(lines):
        current.append(line)
        if i + 1 == len(lines) or _breaks_after(line, lines[i + 1], full):
            paragraphs.append(join_lines(current))
            current = []
    return paragraphs


def _is_broken(line: str) -> bool:
    """A line that stops mid-paragraph: no final stop, yet too long or too full of sentences to be a heading."""
    return not ends_sentence(line) and (len(line) > HEADING_MAX or "。" in line)


def _rejoin(lines: list[str]) -> list[str]:
    """Paragraphs given one per line, with the odd paragraph broken over several lines (Wikisource
    breaks at a subscript: "细颗粒物（PM" / "2.5" / "）平均浓度下降9.1%。"): once a line is broken,
    the lines after it belong to its paragraph until one ends a sentence."""
    paragraphs, current = [], []
    for i, line in enumerate(lines):
        current.append(line)
        broken = _is_broken(current[0]) and not ends_sentence(line)
        if not broken or i + 1 == len(lines):
            paragraphs.append(join_lines(current))
            current = []
    return paragraphs


def split_paragraphs(raw: str) -> tuple[list[str], int]:
    """The report's paragraphs, and how many of them are cover lines."""
    lines = clean_lines(raw)
    first = _first_body_line(lines)
    body = lines[first:]
    paragraphs = _unwrap(body) if is_hard_wrapped(body) else _rejoin(body)
    return lines[:first] + paragraphs, first


def split_sentences(text: str, offset: int) -> list[tuple[int, int]]:
    spans = []
    for m in SENTENCE_RE.finditer(text):
        if m.group().strip():
            spans.append((offset + m.start(), offset + m.end()))
    return spans


def _heading(text: str) -> str:
    return text.rstrip("。：:！!")


def lead_of(text: str) -> str:
    m = LEAD_RE.match(text)
    return _heading(m.group()) if m and len(m.group()) < len(text) else ""


def _first_sentence(text: str) -> str:
    """A paragraph's opening sentence when it is short enough to be the heading it opens with."""
    m = SENTENCE_RE.match(text)
    return _heading(m.group()) if m and len(m.group()) <= HEADING_MAX else ""


@dataclass
class _Outline:
    """Where the reader is in the report while walking its paragraphs."""
    part: str = ""
    section: str = ""
    item: str = ""
    section_opens_paragraph: bool = False    # the section was a paragraph's lead, not a heading line
    heading_section: bool = False             # a section heading line is in force
    appendix: bool = False
    numbered_parts: bool = False

    def heading(self, text: str) -> str:
        """Take a standalone heading line; returns its kind."""
        name = _heading(text)
        self.heading_section = False
        if APPENDIX_RE.match(name):
            self.appendix = True
            self.part, self.section, self.item = name, "", ""
            return "part"
        if PART_RE.match(name) and not self.appendix or (
                not self.numbered_parts and not self.appendix and PART_WORDS.search(name)
                and not SECTION_RE.match(name) and not ITEM_RE.match(name)):
            self.part, self.section, self.item = name, "", ""
            return "part"
        if ITEM_RE.match(name) and self.section:
            self.item = name
            return "item"
        self.section, self.item, self.section_opens_paragraph, self.heading_section = name, "", False, True
        return "section"

    def body(self, text: str) -> tuple[str, str, str, str]:
        """(part, section, item, lead) of a body paragraph.  A section that opens its paragraph covers
        the paragraphs after it (its sub-topics and their continuations) until a transition."""
        lead = lead_of(text)
        if ADDRESS_RE.match(text):
            # "各位代表" speaks to the whole house, outside any section.
            self.section, self.item = "", ""
        elif (SECTION_RE.match(text) or ORDINAL_RE.match(text) and not self.heading_section) \
                and _first_sentence(text):
            self.section, self.item, self.section_opens_paragraph = _first_sentence(text), "", True
            return self.part, self.section, "", ""
        elif self.section_opens_paragraph and TRANSITION_RE.match(text):
            self.section, self.item = "", ""
        return self.part, self.section, self.item, lead


def _is_heading(text: str) -> bool:
    """A short line without a final stop, and not a "label：value" line (主办单位：…); or a numbered
    heading that ends in one ("（一）着力稳定宏观经济大盘，保持经济运行在合理区间。" alone on its line)."""
    if len(text) > HEADING_MAX:
        return False
    if not ends_sentence(text):
        return not re.search("[：:；;].", text)
    numbered = PART_RE.match(text) or SECTION_RE.match(text) or ITEM_RE.match(text)
    return bool(numbered) and len(split_sentences(text, 0)) == 1 and text[-1] in "。"


def _structure(paras: list[str], cover: int) -> list[tuple[str, str, str, str, str]]:
    """(kind, part, section, item, lead) for each paragraph."""
    outline = _Outline(numbered_parts=any(PART_RE.match(p) and _is_heading(p) for p in paras[cover:]))
    out = [("title", "", "", "", "")] * cover
    for text in paras[cover:]:
        if _is_heading(text):
            kind = outline.heading(text)
            out.append((kind, outline.part, outline.section, outline.item, ""))
        else:
            out.append(("body",) + outline.body(text))
    return out


def text_sha256(raw: str) -> str:
    """The checksum a report's text is known by (the same text added twice is recognised by it)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def parse(raw: str, source: str = "") -> Document:
    """Clean a report's text and recover its parts, sections, paragraphs, sentences and metadata."""
    paras, cover = split_paragraphs(raw)
    if not any(ends_sentence(p) for p in paras):
        raise ReportError(f"{source or 'the report'} has no sentences: is it an empty or non-text file?")
    text = "\n".join(paras)
    paragraphs, sentences, pos = [], [], 0
    for ptext, (kind, part, section, item, lead) in zip(paras, _structure(paras, cover)):
        paragraphs.append(Paragraph(pos, pos + len(ptext), kind, part, section, lead, item))
        # The cover page says who spoke, when and where: searchable, but not a heading.
        if kind in ("body", "title"):
            sentences += [Sentence(s, e, len(paragraphs) - 1) for s, e in split_sentences(ptext, pos)]
        pos += len(ptext) + 1
    meta = read_metadata(text, paragraphs, source)
    return Document(text=text, paragraphs=paragraphs, sentences=sentences, title=meta.title,
                    sha256=text_sha256(raw), source=source, meta=meta)


def read_report(path: str | Path) -> Document:
    """A report file of any supported format, parsed."""
    return parse(read_text(path), source=str(path))
