"""Parse: turn a PDF-extracted report into clean text with its structure.

The PDF wraps every line at a fixed width, so a paragraph's first line is
indented and its last line is short.  Those two facts, plus the report's own
markers (一、 parts, （一） sections, 各位代表 addresses), recover the paragraphs
without any knowledge of this particular report.
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

SEPARATOR = " › "
SENTENCE_END = "。！？"
PART_RE = re.compile(r"^[一二三四五六七八九十]+、")
SECTION_RE = re.compile(r"^（[一二三四五六七八九十]+）")
ADDRESS_RE = re.compile(r"^各位代表[！，：]")
# A lead sentence is a short topic statement that opens a paragraph.
LEAD_RE = re.compile(r"^[^，。；：！？]{4,30}。")
SENTENCE_RE = re.compile(r"[^。！？]*(?:[。！？]+[”’」』）)]*|$)")
# How far (in em) below a full line a line falls when it ends a paragraph,
# opens one (the two-em indent), or is a heading.
SHORT_LINE_SLACK = 1.5
INDENT_SLACK = 1.0
HEADING_SLACK = 4.0


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    kind: str                 # "title", "part", "section" (a heading) or "body"
    part: str = ""
    section: str = ""
    lead: str = ""            # the opening topic sentence, without its 。

    @property
    def path(self) -> str:
        return SEPARATOR.join(p for p in (self.part, self.section) if p)


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
    _sentence_starts: list[int] = field(default_factory=list, repr=False)

    def sentence_at(self, offset: int) -> Sentence:
        """The sentence that contains character `offset` of the text."""
        if not self._sentence_starts:
            self._sentence_starts = [s.start for s in self.sentences]
        i = bisect.bisect_right(self._sentence_starts, offset) - 1
        return self.sentences[max(i, 0)]


def line_width(line: str) -> float:
    """Printed width in em: CJK characters are one em, Latin glyphs about half."""
    return sum(0.5 if ch.isascii() else 1.0 for ch in line
               if unicodedata.category(ch) != "Cc")


def _ends_sentence(line: str) -> bool:
    return bool(line) and line.rstrip("”’」』）)")[-1:] in SENTENCE_END + "：；"


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


def _breaks_after(line: str, nxt: str, full: float) -> bool:
    """Does a paragraph end after `line`, given the next line and the full line width?"""
    if not _ends_sentence(line):
        # Only a heading ends without punctuation; wrapped lines run to the margin.
        return line_width(line) < full - HEADING_SLACK
    next_indented = line_width(nxt) < full - INDENT_SLACK and not _ends_sentence(nxt)
    return line_width(line) < full - SHORT_LINE_SLACK or _opens_block(nxt) or next_indented


def split_paragraphs(raw: str) -> list[str]:
    lines = [ln.strip() for ln in raw.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        return []
    wrapped = [line_width(ln) for ln in lines if not _ends_sentence(ln)] or [line_width(ln) for ln in lines]
    full = statistics.median(wrapped)
    # A cover page comes before the first sentence: each of its lines stands alone.
    first = next((i for i, ln in enumerate(lines) if _ends_sentence(ln)), len(lines))
    paragraphs, current = list(lines[:first]), []
    for i in range(first, len(lines)):
        current.append(lines[i])
        if i + 1 == len(lines) or _breaks_after(lines[i], lines[i + 1], full):
            paragraphs.append(join_lines(current))
            current = []
    return paragraphs


def split_sentences(text: str, offset: int) -> list[tuple[int, int]]:
    spans = []
    for m in SENTENCE_RE.finditer(text):
        if m.group().strip():
            spans.append((offset + m.start(), offset + m.end()))
    return spans


def _heading(text: str) -> str:
    return text.rstrip("。：")


def _lead(text: str) -> str:
    m = LEAD_RE.match(text)
    return _heading(m.group()) if m and len(m.group()) < len(text) else ""


def _structure(paras: list[str]) -> list[tuple[str, str, str, str]]:
    """(kind, part, section, lead) for each paragraph."""
    out, part, section, seen_body = [], "", "", False
    for text in paras:
        heading = not _ends_sentence(text)
        if heading and PART_RE.match(text):
            part, section = _heading(text), ""
            out.append(("part", part, "", ""))
        elif heading and SECTION_RE.match(text):
            section = _heading(text)
            out.append(("section", part, section, ""))
        elif heading and not seen_body:
            out.append(("title", "", "", ""))
        elif SECTION_RE.match(text) and _lead(text):
            # A section that opens its paragraph, as in part one, covers that paragraph only.
            seen_body = True
            out.append(("body", part, _lead(text), ""))
        else:
            seen_body = True
            if ADDRESS_RE.match(text):
                section = ""      # "各位代表" speaks to the whole house, outside any section
            out.append(("body", part, section, _lead(text)))
    return out


def parse(raw: str, source: str = "") -> Document:
    """Clean a PDF-extracted report and recover its parts, sections, paragraphs and sentences."""
    raw = raw.lstrip("\ufeff")
    paras = split_paragraphs(raw)
    if not any(_ends_sentence(p) for p in paras):
        raise ReportError(f"{source or 'the report'} has no sentences: is it an empty or non-text file?")
    text = "\n".join(paras)
    paragraphs, sentences, pos = [], [], 0
    for ptext, (kind, part, section, lead) in zip(paras, _structure(paras)):
        paragraphs.append(Paragraph(pos, pos + len(ptext), kind, part, section, lead))
        # The cover page says who spoke, when and where: searchable, but not a heading.
        if kind in ("body", "title"):
            sentences += [Sentence(s, e, len(paragraphs) - 1) for s, e in split_sentences(ptext, pos)]
        pos += len(ptext) + 1
    titles = [text[p.start:p.end] for p in paragraphs if p.kind == "title"]
    return Document(text=text, paragraphs=paragraphs, sentences=sentences,
                    title="".join(titles[:2]) or Path(source).stem,
                    sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(), source=source)


def read_report(path: str | Path) -> Document:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReportError(f"Report file not found: {path}") from None
    except OSError as e:
        raise ReportError(f"Cannot read the report file {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReportError(f"{path} is not UTF-8 text (byte {e.start} is not valid UTF-8).") from None
    if not text.strip():
        raise ReportError(f"The report file {path} is empty.")
    return parse(text, source=str(path))
