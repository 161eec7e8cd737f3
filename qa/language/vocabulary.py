"""Vocabulary: the government work reports' own terms in English and Chinese, and China's regions.

CC-CEDICT (glossary.py) knows general words, not the reports' terms: "GDP growth" is 经济增长 or
地区生产总值增长 in a report, "fixed-asset investment" is 固定资产投资, and readers write 固投 or
社零 where a report writes 固定资产投资 or 社会消费品零售总额.  Two bundled tables fill that gap:

    data/vocabulary.tsv   key, English variants, Chinese variants: one concept a line
    data/regions.tsv      code, Chinese names, English names: 31 provincial-level regions and the nation

Matching is by dictionary lookup of every span of a question (characters for Chinese, stemmed
words for English), then the longest spans first with no overlaps, so 地区生产总值增长 is one
concept and not 地区生产总值 plus 增长.  Measured on the 614 questions of eval/ (2-core machine):
english() 18 µs, chinese() 53 µs, regions() 48 µs per question, well under 1 ms; loading both
tables takes about 25 ms, once per process.
"""
from __future__ import annotations

import functools
import importlib.resources
import logging
import re
import time
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from .glossary import stem
from .segmenter import words

log = logging.getLogger(__name__)

DATA = importlib.resources.files("qa") / "data"
VOCABULARY_FILE = "vocabulary.tsv"
REGIONS_FILE = "regions.tsv"

WORD = re.compile(r"[a-z0-9]+(?:[&.][a-z0-9]+)*")   # keeps r&d, pm2.5 and 5g whole
# "Henan's", "farmers'", "Xiong'an": the apostrophe (and a possessive s) never changes the term.
APOSTROPHE = re.compile(r"(?<=[a-z])['’]s?\b")
# Reports quote slogans (“两新”, 专精特新“小巨人”) and readers do not; spaces come from line breaks.
IGNORED = re.compile(r"[\s“”‘’\"'「」『』]+")
LATIN = re.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class Concept:
    key: str
    en: tuple[str, ...]
    zh: tuple[str, ...]


@dataclass(frozen=True)
class Region:
    code: str            # "henan", "national"
    zh: tuple[str, ...]
    en: tuple[str, ...]


def english_words(text: str) -> tuple[str, ...]:
    """Lower-case, stemmed words; hyphens and punctuation separate words."""
    text = APOSTROPHE.sub("", unicodedata.normalize("NFKC", text).lower())
    return tuple(stem(w) for w in WORD.findall(text))


def chinese_text(text: str) -> str:
    """Full-width forms folded (％, Ｒ＆Ｄ), Latin lower-cased, quotes and spaces removed."""
    return IGNORED.sub("", unicodedata.normalize("NFKC", text).lower())


class _Matcher:
    """Finds the phrases of a table in a sequence (a string or a tuple of words): longest first, no overlaps."""

    def __init__(self, table: dict[Sequence, Hashable]):
        self.table = table
        self.lengths = sorted({len(p) for p in table}, reverse=True)

    def find(self, seq: Sequence) -> list[Hashable]:
        """The values of the chosen phrases in text order, each once; a None value blocks its span."""
        values = (self.table[seq[s:s + n]] for s, n in self.spans(seq))
        return list(dict.fromkeys(v for v in values if v is not None))

    def spans(self, seq: Sequence) -> list[tuple[int, int]]:
        """(start, length) of the chosen phrases, in text order."""
        chosen: list[tuple[int, int]] = []
        taken = bytearray(len(seq))
        for length, start in sorted(self._candidates(seq)):
            length = -length
            if not any(taken[start:start + length]):
                taken[start:start + length] = b"\1" * length
                chosen.append((start, length))
        return sorted(chosen)

    def _candidates(self, seq: Sequence) -> Iterable[tuple[int, int]]:
        n = len(seq)
        for start in range(n):
            for length in self.lengths:
                if start + length <= n and seq[start:start + length] in self.table \
                        and self._whole(seq, start, length):
                    yield -length, start

    @staticmethod
    def _whole(seq: Sequence, start: int, length: int) -> bool:
        """A Latin term in Chinese text (AI, 5G, M2) must not be part of a longer Latin word."""
        if not isinstance(seq, str):
            return True
        end = start + length
        before = start > 0 and LATIN.match(seq[start - 1]) and LATIN.match(seq[start])
        after = end < len(seq) and LATIN.match(seq[end]) and LATIN.match(seq[end - 1])
        return not (before or after)


def _fields(text: str) -> Iterable[tuple[int, list[tuple[str, ...]]]]:
    """(line number, [tuple of ' | '-separated variants] per column) for each data line of a table."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        columns = line.split("\t")
        if len(columns) != 3 or not all(c.strip() for c in columns):
            raise ValueError(f"line {number}: expected 3 tab-separated columns: {line!r}")
        variants = [tuple(v.strip() for v in c.split(" | ") if v.strip()) for c in columns[1:]]
        yield number, [columns[0].strip(), *variants]


def parse_concepts(text: str) -> list[Concept]:
    return [Concept(key, en, zh) for _, (key, en, zh) in _fields(text)]


def parse_regions(text: str) -> list[Region]:
    return [Region(code, zh, en) for _, (code, zh, en) in _fields(text)]


# Concepts that say what kind of figure or time is asked (a target, a growth, a share, this year), not
# what is measured: a question names them about any indicator, so they never carry its subject.
GENERAL_KEYS = frozenset("""
target growth increase decrease share output capacity scale per_capita average annual cumulative ranking
year_on_year percentage_points billion_yuan trillion_yuan yuan mu jin kilowatts kilometers people_count
households number last_year this_year past_five_years review main_tasks overall_requirements measures
achievements problems funding coverage_rate
""".split())


class Vocabulary:
    def __init__(self, concepts: Sequence[Concept], regions: Sequence[Region] = ()):
        self.concepts = tuple(concepts)
        self.region_list = tuple(regions)
        en_table = _english_table(self.concepts)
        self._zh_table = _chinese_table(self.concepts)
        self._en, self._zh = _Matcher(en_table), _Matcher(self._zh_table)
        self._region_en, self._region_zh = _region_matchers(self.region_list, en_table, self._zh_table)
        self._longer: dict[tuple[str, str], tuple[str, ...]] = {}

    @classmethod
    def load(cls) -> "Vocabulary":
        """The bundled vocabulary and regions, read once per process."""
        return _bundled()

    def english(self, text: str) -> list[Concept]:
        """Concepts an English text names, in text order."""
        return _flatten(self._en.find(english_words(text)))

    def english_named(self, text: str) -> dict[str, int]:
        """Concept key -> the length in words of the longest of its English terms the text names
        ("all-cargo air routes" names freight by one word, "China-Europe freight trains" its trains
        by three)."""
        words = english_words(text)
        out: dict[str, int] = {}
        for s, n in self._en.spans(words):
            for concept in self._en.table[words[s:s + n]] or ():
                out[concept.key] = max(out.get(concept.key, 0), n)
        return out

    def english_rest(self, text: str) -> str:
        """The words of an English text that no concept accounts for (for the dictionary to try)."""
        words = english_words(text)
        covered = {i for s, n in self._en.spans(words) if self._en.table[words[s:s + n]] is not None
                   for i in range(s, s + n)}
        return " ".join(w for i, w in enumerate(words) if i not in covered)

    def chinese(self, text: str) -> list[Concept]:
        """Concepts whose Chinese variants occur in a Chinese text, in text order."""
        return _flatten(self._zh.find(chinese_text(text)))

    def variants(self, word: str) -> tuple[str, ...]:
        """Every Chinese variant of the concepts `word` is a Chinese variant of; () if none."""
        concepts = self._zh_table.get(chinese_text(word), ())
        return tuple(dict.fromkeys(v for c in concepts for v in c.zh))

    @staticmethod
    def topical(concepts: Sequence[Concept]) -> list[Concept]:
        """The concepts that name what is measured or done, without the general ones (target, growth)."""
        return [c for c in concepts if c.key not in GENERAL_KEYS]

    def longer(self, variant: str, concept: Concept) -> tuple[str, ...]:
        """The other concepts' Chinese variants that contain `variant` (进出口 for 出口)."""
        key = (variant, concept.key)
        if key not in self._longer:
            self._longer[key] = tuple(u for u, owners in self._zh_table.items()
                                      if variant in u and u != variant and concept not in owners)
        return self._longer[key]

    def owners(self, variant: str) -> tuple[Concept, ...]:
        """The concepts a Chinese variant belongs to."""
        return self._zh_table.get(chinese_text(variant), ())

    def regions(self, text: str) -> list[Region]:
        """Regions a question names, in Chinese or English, in text order."""
        found = self._region_zh.find(chinese_text(text)) + self._region_en.find(english_words(text))
        return list(dict.fromkeys(found))


def _flatten(groups: Iterable[tuple[Concept, ...]]) -> list[Concept]:
    return list(dict.fromkeys(c for group in groups for c in group))


def _english_table(concepts: Iterable[Concept]) -> dict[tuple[str, ...], tuple[Concept, ...]]:
    table: dict[tuple[str, ...], tuple[Concept, ...]] = {}
    for concept in concepts:
        for variant in concept.en:
            words = english_words(variant)
            if words and concept not in table.get(words, ()):
                table[words] = table.get(words, ()) + (concept,)
    return table


def _chinese_table(concepts: Iterable[Concept]) -> dict[str, tuple[Concept, ...]]:
    table: dict[str, tuple[Concept, ...]] = {}
    for concept in concepts:
        for variant in concept.zh:
            key = chinese_text(variant)
            if key and concept not in table.get(key, ()):
                table[key] = table.get(key, ()) + (concept,)
    return table


def _region_matchers(regions: Sequence[Region], en_terms: Iterable, zh_terms: Iterable) -> tuple[_Matcher, _Matcher]:
    """Region names, plus blockers (value None): terms that contain a region's name without asking for it."""
    national = [r for r in regions if r.code == "national"]
    en = _blockers([english_words(n) for r in national for n in r.en], en_terms)
    zh = _blockers([chinese_text(n) for r in national for n in r.zh], zh_terms)
    zh.update((chinese_text(t), None) for t in NOT_REGIONS)
    for region in regions:
        en.update((english_words(name), region) for name in region.en)
        zh.update((chinese_text(name), region) for name in region.zh)
    return _Matcher(en), _Matcher(zh)


def _blockers(names: list[Sequence], terms: Iterable[Sequence]) -> dict:
    """The vocabulary's terms that contain a national name: 中国式现代化, 全国统一大市场, 居全国 and
    "national parks" are policies, things and rankings, not a request for the national report."""
    names = [n for n in names if n]
    return {t: None for t in terms if any(len(n) < len(t) and _contains(t, n) for n in names)}


# Terms that contain a region's name and mean something else: the Shanghai Cooperation Organisation,
# 犹豫 (hesitate), the Longhai railway and Long County (Shaanxi), and 中国（河南）自由贸易试验区, whose
# 中国 is part of a provincial zone's name.
NOT_REGIONS = ("上海合作组织", "上合组织", "犹豫", "陇海", "陇县", "中国(")


def _contains(seq: Sequence, part: Sequence) -> bool:
    """`part` occurs in `seq` as a contiguous run (of characters or of words)."""
    if isinstance(seq, str):
        return part in seq
    n = len(part)
    return any(seq[i:i + n] == part for i in range(len(seq) - n + 1))


@functools.cache
def _bundled() -> Vocabulary:
    started = time.perf_counter()
    concepts = parse_concepts((DATA / VOCABULARY_FILE).read_text(encoding="utf-8"))
    regions = parse_regions((DATA / REGIONS_FILE).read_text(encoding="utf-8"))
    vocabulary = Vocabulary(concepts, regions)
    log.debug("vocabulary: %d concepts, %d regions in %.0f ms",
              len(concepts), len(regions), (time.perf_counter() - started) * 1000)
    return vocabulary


# Where a term's words may stand apart and still state it: within one sentence ("国内生产总值达到…，
# 增长8.1%").  A heading's 经济 and a sentence's 增长 (callers join them with a line break) state
# nothing together.
CLAUSE_BREAK = re.compile(r"[。！？!?\n›]")


def _states(variant: str, context: str) -> bool:
    """The variant itself, or every word of it within one sentence, split as reports split them
    ("新增城镇就业" states 城镇新增就业)."""
    if variant in context:
        return True
    parts = [w for w in words(variant) if len(w) > 1]
    return len(parts) > 1 and any(all(w in clause for w in parts) for clause in CLAUSE_BREAK.split(context))


# What a longer term may put before a shorter one and still measure the same thing: where (国内, 全省)
# and how much (累计, 年均).  Anything else makes another thing: 进出口 is not 出口.
SAME_THING = re.compile(r"(?:国内|地区|全国|全省|全市|全区|全社会|全年|年均|累计|同比|新增|总|总量|增长|增速|增幅|"
                        r"下降|降幅|提高|上涨|涨幅|率)*")


def stated_alone(concept: Concept, context: str, asked: Iterable[Concept] = ()) -> bool:
    """A variant occurs in the text, and not only inside a longer term of another concept that
    measures something else (出口 inside 进出口, 增加值 inside 单位增加值能耗); a longer term of a
    concept the question names too is no other thing."""
    vocabulary = Vocabulary.load()
    asked = set(asked)
    context = unicodedata.normalize("NFKC", context)
    for v in (unicodedata.normalize("NFKC", v) for v in concept.zh):
        # A longer term ending in the variant names another thing of that kind (进出口); one that
        # goes on after it (空气质量优良天数比率, 规上工业增加值) is still about it.
        # A longer term the question composes from its own terms (规上工业 + 增加值) is what it asks.
        asked_words = [w for c in asked for w in c.zh]
        others = [u for u in vocabulary.longer(v, concept) if u.endswith(v) and not SAME_THING.fullmatch(u[:-len(v)])
                  and not asked & set(vocabulary.owners(u)) and not any(w in u[:-len(v)] for w in asked_words)]
        start = context.find(v)
        while start >= 0:
            if not any(_covers(context, u, start, start + len(v)) for u in others):
                return True
            start = context.find(v, start + 1)
    return False


def _covers(text: str, longer: str, a: int, b: int) -> bool:
    """An occurrence of `longer` in `text` spans [a, b)."""
    i = text.find(longer, max(0, b - len(longer)))
    while 0 <= i <= a:
        if i + len(longer) >= b:
            return True
        i = text.find(longer, i + 1)
    return False


def stated(concept: Concept, context: str) -> bool:
    """The concept is stated in a text: one of its variants is, or every word of one (full-width
    forms folded: R＆D is R&D)."""
    context = unicodedata.normalize("NFKC", context)
    return any(_states(unicodedata.normalize("NFKC", v), context) for v in concept.zh)
