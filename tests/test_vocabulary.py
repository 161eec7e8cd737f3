"""The bilingual vocabulary and the regions table, on the bundled data and the real reports."""
from __future__ import annotations

import re
import time

import pytest

from qa.engine import BUNDLED_REPORT
from qa.language.vocabulary import Vocabulary, chinese_text, english_words

from eval.gold import REPORTS

# Readers' shorthands that no report uses: questions are written with them, so they stay.
READER_SHORTHANDS = {"固投", "社零", "社零总额", "社融", "CPI", "PPI", "人均GDP", "WTO"}


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.load()


@pytest.fixture(scope="module")
def reports() -> str:
    """The repository's 32 reports and the bundled one, normalised as chinese() normalises questions."""
    paths = sorted(REPORTS.glob("*.txt"))
    assert len(paths) == 32
    return "\n".join(chinese_text(p.read_text(encoding="utf-8")) for p in paths + [BUNDLED_REPORT])


def zh_of(concepts) -> set[str]:
    return {z for c in concepts for z in c.zh}


def test_load_is_cached_and_large(vocab):
    assert Vocabulary.load() is vocab
    assert len(vocab.concepts) >= 350
    assert len({c.key for c in vocab.concepts}) == len(vocab.concepts)


@pytest.mark.parametrize("question, expected", [
    ("What GDP growth target did Henan set for 2024?", "经济增长"),
    ("How many universities does Henan have?", "高校"),
    ("What was fixed-asset investment growth?", "固定资产投资"),
    ("What is the surveyed urban unemployment rate target?", "城镇调查失业率"),
    ("How many 'little giant' specialized SMEs does Henan have?", "小巨人"),
    ("What is Henan's R&D intensity target?", "研发投入强度"),
    ("How much did PM2.5 concentration fall?", "细颗粒物"),
])
def test_english_questions_reach_the_reports_words(vocab, question, expected):
    assert expected in zh_of(vocab.english(question))


def test_english_is_case_plural_possessive_and_hyphen_blind(vocab):
    assert vocab.english("UNIVERSITIES") == vocab.english("a university")
    assert vocab.english("Henan's GDP") == vocab.english("henan gdp")
    assert vocab.english("fixed-asset investment") == vocab.english("fixed asset investments")


def test_longest_match_wins_and_matches_do_not_overlap(vocab):
    assert [c.key for c in vocab.english("GDP growth")] == ["gdp_growth"]
    assert [c.key for c in vocab.chinese("地区生产总值增长5%")] == ["gdp_growth"]
    assert [c.key for c in vocab.chinese("规模以上工业增加值")] == ["industrial_value_added"]
    assert [c.key for c in vocab.english("fixed-asset investment growth")] == ["fixed_asset_investment", "growth"]


def test_chinese_questions_with_readers_words(vocab):
    keys = [c.key for c in vocab.chinese("今年固投增长多少？")]
    assert keys == ["this_year", "fixed_asset_investment", "growth"]
    assert "社会消费品零售总额" in zh_of(vocab.chinese("社零总额是多少"))
    assert "规模以上工业" in vocab.variants("规上工业")
    assert {"固定资产投资", "固投"} <= set(vocab.variants("固投"))


def test_the_names_of_gdp_are_one_concept(vocab):
    names = ("GDP", "地区生产总值", "生产总值", "国内生产总值")
    assert all(set(names) <= set(vocab.variants(n)) for n in names)
    assert vocab.variants("ＧＤＰ") == vocab.variants("gdp")   # full-width and case folded


def test_quotes_in_reports_do_not_hide_terms(vocab):
    assert [c.key for c in vocab.chinese("加力扩围实施“两新”政策")][-1] == "two_new"
    assert "little_giants" in [c.key for c in vocab.chinese("专精特新“小巨人”企业")]


def test_latin_terms_in_chinese_are_whole_words(vocab):
    assert "artificial_intelligence" in [c.key for c in vocab.chinese("发展AI产业")]
    assert "artificial_intelligence" not in [c.key for c in vocab.chinese("Taiwan")]


def test_unknown_words(vocab):
    assert vocab.variants("不存在的词") == ()
    assert vocab.english("Who won the 2022 FIFA World Cup?") == []


def test_regions_in_both_languages(vocab):
    codes = lambda text: [r.code for r in vocab.regions(text)]
    assert codes("Xizang") == codes("Tibet") == codes("西藏") == codes("西藏自治区") == ["tibet"]
    assert codes("What GDP growth target did Henan set for 2024?") == ["henan"]
    assert codes("2024年河南省地区生产总值增长多少") == codes("豫东") == ["henan"]
    assert codes("What is China's GDP growth target?") == codes("国务院") == ["national"]
    assert codes("Shanxi and Shaanxi") == ["shanxi", "shaanxi"]
    assert codes("Inner Mongolia") == ["inner-mongolia"] and codes("Mongolia") == []


@pytest.mark.parametrize("text", [
    "What is the GDP target?", "中国式现代化", "全国统一大市场",
    "How many national high-tech enterprises?",
    "China-Europe Railway Express", "上海合作组织", "犹豫不决", "增速居全国第3位",
])
def test_no_region_where_none_is_named(vocab, text):
    assert vocab.regions(text) == []


def test_regions_table(vocab):
    codes = [r.code for r in vocab.region_list]
    assert len(codes) == len(set(codes)) == 32 and "national" in codes
    assert all(r.zh and r.en for r in vocab.region_list)


def test_every_report_of_the_repository_is_a_known_region(vocab):
    codes = {r.code for r in vocab.region_list}
    stems = {p.stem.rsplit("-", 1)[0] for p in REPORTS.glob("*.txt")}
    assert stems and stems <= codes


def test_every_chinese_variant_occurs_in_a_report(vocab, reports):
    """Guards against invented terms: all variants but the readers' shorthands are the reports' words."""
    missing = {z for c in vocab.concepts for z in c.zh if chinese_text(z) not in reports}
    assert missing == READER_SHORTHANDS


@pytest.mark.parametrize("key", [
    "gdp", "gdp_growth", "fixed_asset_investment", "retail_sales", "surveyed_unemployment",
    "industrial_value_added", "rd_intensity", "good_air_days", "urbanization_rate", "universities",
])
def test_indicator_concepts_use_the_reports_words(vocab, reports, key):
    concept = next(c for c in vocab.concepts if c.key == key)
    assert all(chinese_text(z) in reports for z in concept.zh if z not in READER_SHORTHANDS)


def test_a_vocabulary_not_answers(vocab):
    """No figures with units and no sentences: the table names things, it never states them."""
    figure = re.compile(r"\d[\d.]*\s*(%|％|亿|万|元|斤|人|个|吨|公里|千瓦)")
    words = [z for c in vocab.concepts for z in c.zh]
    assert not [w for w in words if figure.search(w) or re.search(r"[，。；：！？,;]", w) or len(w) > 25]


def test_variants_are_unambiguous(vocab):
    """A word belongs to one concept, so chinese() and english() have one reading of it."""
    zh = [z for c in vocab.concepts for z in dict.fromkeys(chinese_text(v) for v in c.zh)]
    en = [e for c in vocab.concepts for e in dict.fromkeys(english_words(v) for v in c.en)]
    assert len(zh) == len(set(zh)) and len(en) == len(set(en))
    assert all(e == e.lower() for c in vocab.concepts for e in c.en)


def test_a_question_is_matched_well_under_a_millisecond(vocab):
    questions = ["What GDP growth target did Henan set for 2024?",
                 "2024年河南省固定资产投资增长目标是多少？"]
    start = time.perf_counter()
    for _ in range(200):
        for q in questions:
            vocab.english(q), vocab.chinese(q), vocab.regions(q)
    per_question = (time.perf_counter() - start) / 400
    assert per_question < 0.001
