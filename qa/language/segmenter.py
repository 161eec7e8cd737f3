"""Words for lexical matching: jieba for Chinese, lower-cased words for Latin script."""
from __future__ import annotations

import functools
import logging
import re

import jieba
import jieba.posseg

jieba.setLogLevel(logging.WARNING)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[\w.%‰]+")
# Question words and particles say what is asked, not what it is about; "报告提出…" says where.
STOPWORDS = frozenset("""
的 了 是 在 和 与 及 对 为 把 被 有 吗 呢 吧 啊 么 什么 多少 几 哪些 哪个 哪 怎么 怎样 如何 为什么 是否
请问 其中 一下 要 将 会 能 该 这 那 这些 那些 及其 以及 达到 多 少 年 个 中 上 下 等 方面 情况 问题 主要 具体
报告 政府工作报告 提出 提到 指出 表示 谈到 说
the a an of in on to for and or is are was were be been what which how many much who when where why
does do did by with from at as its it that this these those has have had will would there their
""".split())


@functools.lru_cache(maxsize=4096)
def words(text: str) -> tuple[str, ...]:
    """Search-mode jieba words, lower-cased, punctuation dropped."""
    out = []
    for w in jieba.lcut_for_search(text):
        w = w.strip().lower()
        if w and _WORD.fullmatch(w):
            out.append(w)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def tagged(text: str) -> tuple:
    """jieba's words with their part-of-speech tags (ns: a place, nr: a person)."""
    return tuple(jieba.posseg.cut(text))


def content_words(text: str) -> list[str]:
    return [w for w in dict.fromkeys(words(text)) if w not in STOPWORDS]


def is_chinese(text: str) -> bool:
    """Written in Chinese (the report's script), as opposed to English or another language."""
    return len(_CJK.findall(text)) >= 2
