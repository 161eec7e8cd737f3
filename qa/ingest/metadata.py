"""Metadata: what a report's cover lines say of it (title, government, year, date, speaker, meeting).

The cover is what stands before the first sentence: a title, a line with the
date and the meeting ("——2025年1月14日在吉林省第十四届人民代表大会第四次会议上"),
the speaker ("省长　胡玉亭"), sometimes a newspaper's 来源 line.  A Wikisource
text has no cover at all; then the year comes from the part headings
("一、2024年工作回顾" is reviewed in the report of 2025) and the government from
the opening address ("我代表国务院").  Every field found in the text keeps its
span, so a cover question ("谁作的报告？") is answered with a citation like any other.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..language.vocabulary import Vocabulary

DATE_RE = re.compile(r"((?:19|20)\d\d)\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
MEETING_RE = re.compile(r"在(.{4,40}?会议|.{4,40}?大会)")
OFFICE = r"(?:代理)?(?:省长|市长|主席|总理|区长|州长)"
# "省长　胡玉亭", "四川省人民政府省长 施小琳", "龚正市长在…", "主席王莉霞在…", "省长 王清宪作政府工作报告"
SPEAKER_RES = [re.compile(OFFICE + r"[\s\u3000]*([\u4e00-\u9fff·]{2,8}?)(?=$|[\s\u3000]*(?:在|作|的|同志))", re.M),
               re.compile(r"日([\u4e00-\u9fff·]{2,4}?)" + OFFICE + "在")]
PUBLISHER_RE = re.compile(r"^(?:来源|稿源|来自)[:：]\s*(.+?)(?=(?:19|20)\d\d\s*年|$)", re.M)
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
REVIEW_RE = re.compile(r"((?:19|20)\d\d)年(?:工作)?回顾")
TITLE_WORDS = "政府工作报告"
OFFICE_REACH = 16          # characters before the speaker's name that may state the office
# The 33 reports' titles have 12-17 characters; a cover that runs on longer (one huge PDF page without a
# sentence end near its top gave a 3,420-character "title") is cut to its first line, and that to this.
TITLE_MAX = 40
NATIONAL_ADDRESS = "我代表国务院"


@dataclass(frozen=True)
class Metadata:
    title: str = ""            # the cover's title line as written, "" when the text has none
    name: str = ""             # a title to list the report by: "2025年吉林省政府工作报告"
    region: str = ""           # the issuing government's region as the report names it ("吉林", "全国")
    region_code: str = ""      # "jilin", "national"
    year: int | None = None    # the year the report plans (今年)
    date: str = ""             # "2025-01-14"
    speaker: str = ""
    meeting: str = ""
    publisher: str = ""        # a newspaper's 来源 line
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)   # field -> its span in the text

    def to_dict(self) -> dict:
        return {"title": self.title, "name": self.name, "region": self.region, "region_code": self.region_code,
                "year": self.year, "date": self.date, "speaker": self.speaker, "meeting": self.meeting,
                "publisher": self.publisher}


def _cover_lines(paragraphs) -> list[tuple[int, int]]:
    return [(p.start, p.end) for p in paragraphs if p.kind == "title"]


def _search(pattern: re.Pattern, text: str, cover: list[tuple[int, int]], group: int = 1):
    """The first match in the cover (its lines searched as one, since a name or a meeting may be
    broken over two lines), with the span of `group`."""
    if not cover:
        return None, None
    m = pattern.search(text, cover[0][0], cover[-1][1])
    return (m, (m.start(group), m.end(group))) if m else (None, None)


def _title_span(text: str, cover: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The run of cover lines that names the report: the first run (between date, speaker and
    newspaper lines) that says 政府工作报告, else the first run."""
    runs, run = [], []
    for a, b in cover:
        line = text[a:b]
        if DATE_RE.search(line) or PUBLISHER_RE.match(line) or re.search(OFFICE, line):
            runs, run = runs + ([run] if run else []), []
        else:
            run.append((a, b))
    runs += [run] if run else []
    if not runs:
        return None
    named = [r for r in runs if TITLE_WORDS in "".join(text[a:b] for a, b in r)]
    best = (named or runs)[0]
    return best[0][0], best[-1][1]


def _year(text: str, paragraphs, date_year: int | None, title: str, source: str) -> int | None:
    """The year planned: the date's, the title's, the year after the one reviewed, else the file name's."""
    if date_year:
        return date_year
    titled = YEAR_RE.search(title)
    if titled:
        return int(titled.group(1))
    heads = [text[p.start:p.end] for p in paragraphs if p.kind == "part"]
    reviewed = [int(m.group(1)) for h in heads for m in [REVIEW_RE.search(h)] if m]
    planned = [int(y) for h in heads if not REVIEW_RE.search(h) for y in YEAR_RE.findall(h)]
    if reviewed or planned:
        return max([y + 1 for y in reviewed] + planned)
    named = YEAR_RE.findall(Path(source).stem)
    return int(named[-1]) if named else None


def _region(text: str, cover: str):
    """The government that reports: named on the cover, by the national address, else the most named."""
    vocab = Vocabulary.load()
    named = vocab.regions(cover)
    if named:
        return named[0]
    if NATIONAL_ADDRESS in text[:2000]:
        return next((r for r in vocab.region_list if r.code == "national"), None)
    counts = Counter()
    for r in vocab.region_list:
        if r.code != "national":
            counts[r.code] = sum(text.count(z) for z in r.zh if len(z) > 1)
    best = counts.most_common(1)
    if not best or best[0][1] == 0:
        return None
    return next(r for r in vocab.region_list if r.code == best[0][0])


def _office_span(text: str, speaker: int) -> tuple[int, int] | None:
    """The office the cover gives before the speaker's name ("浙江省代省长", "西藏自治区代理主席"):
    from after the meeting or the date to the name."""
    window = text[max(0, speaker - OFFICE_REACH):speaker]
    cut = max((m.end() for m in re.finditer(r"会议上|大会上|日|\n|——", window)), default=0)
    piece = window[cut:]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    if not piece or not re.search(OFFICE + r"$", piece):
        return None
    start = speaker - len(window) + cut + lead
    return start, start + len(piece)


def read_metadata(text: str, paragraphs, source: str = "") -> Metadata:
    cover = _cover_lines(paragraphs)
    title_span = _title_span(text, cover)
    title = text[slice(*title_span)].replace("\n", "") if title_span else ""
    if len(title) > TITLE_MAX:
        first_line = text[title_span[0]:title_span[1]].split("\n")[0]
        title = first_line[:TITLE_MAX]
        title_span = (title_span[0], title_span[0] + len(title))
    spans = {"title": title_span} if title_span else {}
    found = {}
    for key, pattern in (("date", DATE_RE), ("meeting", MEETING_RE), ("publisher", PUBLISHER_RE),
                         ("speaker", SPEAKER_RES[0]), ("speaker", SPEAKER_RES[1])):
        if key not in found:
            m, span = _search(pattern, text, cover, 0 if key == "date" else 1)
            if m:
                found[key], spans[key] = m, span
    if "speaker" in spans:
        office = _office_span(text, spans["speaker"][0])
        if office:
            spans["office"] = office
    date_m = found.get("date")
    year = _year(text, paragraphs, int(date_m.group(1)) if date_m else None, title, source)
    region = _region(text, " ".join(text[a:b] for a, b in cover))
    region_name = region.zh[0] if region else ""
    name = title if (YEAR_RE.search(title) and region_name and region_name in title) else \
        f"{year or ''}年{region_name}{title or TITLE_WORDS}".lstrip("年")
    flat = {k: re.sub(r"\s+", "", m.group(1)) for k, m in found.items() if k != "date"}
    return Metadata(
        title=title, name=name, region=region_name, region_code=region.code if region else "", year=year,
        date=f"{date_m.group(1)}-{int(date_m.group(2)):02d}-{int(date_m.group(3)):02d}" if date_m else "",
        speaker=flat.get("speaker", ""), meeting=flat.get("meeting", ""), publisher=flat.get("publisher", ""),
        spans=spans)
