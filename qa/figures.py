"""Key figures: every quantity a report states, as rows with a verbatim citation.

A government work report states its figures in dense clauses ("主要预期目标是：经济增长 5.5%，
研发经费投入强度 2.1%，…").  `extract_figures` turns them into `Figure` rows by rules over
clauses and the report's structure; nothing is generated, every row quotes the report.

What the rules decide (the labelled table in eval/figures_gold.jsonl follows the same rules):

- A figure is an Arabic-numeral quantity.  Chinese numerals (一万, 两个, 十大战略) are left
  out on purpose: in these reports they mostly name programmes ("三个一批", "两个确保") and
  cannot be told from counts by rule.
- Years and dates are never figures (2025年, 9月26日, a bare 2024 before a name), nor are
  numbers that name something: inside “…” or 《…》, glued to Latin letters (5G, PM2.5),
  versions (3.0版), anniversaries (75周年), ages (60岁), list numbers (1.医疗), "前20位"
  style thresholds.  Ordinal rankings (第 2位) are figures with qualifier "第".
- A range (5%—5.5%, 3-5分) is one figure: `value` keeps the whole range as written, `number`
  is its first bound.  A ratio (2.31:1) is one figure with unit ":" and number the first term.
- `unit` is normalised (％ → %), `value` stays as written.
- `kind`: "actual" (the reviewed year), "target" (the plan year), "goal" (a later year named
  in the sentence, "到2025年"), "other" (another past period: "过去五年", "十四五以来").
"""
from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass

from .language.vocabulary import Vocabulary, chinese_text
from .language.years import OPENING, SEVERAL_YEARS
from .schema import Citation

log = logging.getLogger(__name__)

KINDS = ("actual", "target", "goal", "other")

NUM = r"\d+(?:\.\d+)?"
PERCENT = r"[%％‰]"
# Measure words, longest first so 万人次 wins over 万人 and 人.
MEASURES = sorted("""元 美元 人 人次 户 家 个 项 条 列 辆 亩 斤 吨 千瓦 千瓦时 公里 平方公里 平方米 标箱 架 所 场
    位 名 件 部 台 套 间 天 小时 年 倍 支 座 批 种 处 次 份 张 本 册 宗 艘 标准箱 个百分点 百分点 微克/立方米
    分/千瓦时 分/立方米 千米 米 公顷 立方米 吨标准煤 元/人 千瓦时/人 篇 门 只 枚""".split(), key=len, reverse=True)
MULTIPLIER = r"(?:万亿|千亿|百亿|十亿|亿|千万|百万|十万|万|千|百)"
HEDGE_BEFORE_UNIT = r"(?:多|余)"
HEDGE_AFTER = r"(?:左右|以上|以内|以下|多|余)"
FIGURE_RE = re.compile(
    rf"(?P<value>{NUM}\s*(?::|：)\s*{NUM}"                       # a ratio, 2.31:1
    rf"|{NUM}\s*{PERCENT}?\s*[—\-－~～]\s*{NUM}"                   # a range, 5%—5.5%, 3-5
    rf"|{NUM})"
    rf"(?P<hedge1>\s*{HEDGE_BEFORE_UNIT})?"
    rf"(?P<unit>\s*(?:{PERCENT}|{MULTIPLIER}?(?:{'|'.join(map(re.escape, MEASURES))})(?:（[^）]{{1,2}}）)?|{MULTIPLIER}))?"
    rf"(?P<hedge2>\s*{HEDGE_AFTER})?")
CLAUSE_END = "，；：。！？\n"
# Verbs that close an item of their own: "获批", "建成投用", "落地".
FINISHED = re.compile(r"(?:获批|建成|投用|投产|落地|完成|开通|启动|实施|召开|举办|通过|上线|挂牌|揭牌)$")
# A number that names or dates something rather than measures it.
NOT_A_FIGURE_AFTER = re.compile(r"\s*(?:年(?!以上)|月|日|周年|届|版|岁|号|期|代|级|强|[A-Za-zⅠ-Ⅻ]|\.(?!\d))")
YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# A service number (12345 热线, 12345市民服务热线) names a line, it does not measure anything.
SERVICE_NUMBER_AFTER = re.compile(r"\s*[^\d，。；、\s]{0,6}?热线")
# "是十年前的3倍": a multiple of the previous figure's subject, which the clause does not repeat.
MULTIPLE_OF = re.compile(r"是[^，。；]*的")
ORDINAL_BEFORE = re.compile(r"第\s*$")

# Words between the indicator and the number.  Direction words record a change, bound words
# a level; "X到/X至" (提高到 90.4%) states a level, so it reads as 达到.
DIRECTION = ("增长", "增加", "增产", "上涨", "提高", "提升", "上升", "下降", "降低", "减少", "缩小", "压减")
LEVEL_VERB = re.compile(r"(?:提高|上升|增|增加|拓展|缩小|延长|提升|发展|扩大|降低|下降|降)(?:到|至)$|跃上$|达到?$|增至$")
BOUND = {"超过": "超过", "超": "超过", "突破": "突破", "约": "约", "接近": "接近", "近": "接近",
         "不低于": "不低于", "低于": "低于", "高于": "高于", "优于": "优于"}
CANONICAL_HEDGE = {"余": "多"}
TAIL_QUALIFIER = re.compile(
    r"(?:(?:分别|实际|再|平均|稳定|保持|控制|首次|全部|总体|年均|均|累计|预计|拟按|拟安排|拟|居全国|国家目标)*"
    r"(?P<verb>增长|增加|增产|上涨|提高到|提高至|提高|提升到|提升至|提升|上升到|上升至|上升|下降|降低|减少|缩小到|缩小至|缩小|压减|"
    r"增至|增加到|增加至|拓展至|拓展到|延长至|延长到|发展到|发展至|扩大到|扩大至|降至|降到|下降到|下降至|降低到|降低至|跃上|达到|达|突破|超过|超|约|接近|近|不低于|低于|高于|优于|第|"
    r"在|为|是|确定为|居全国|居|占)?)+$")
COMPARISON = re.compile(r"(?:比上年|较上年|同比|比去年)")
# Scope and action words that open a clause but are not what is measured.
LEADING_WORDS = """全省 全市 全区 全年 其中 今年 去年 合计 累计 共 拟 一次性 再 每年 年均 保持 实现 完成 开展 实施
    建设 建成 建成投用 投用 培育 引进落地 引进 打造 争取 安排 发行 推动 支持 壮大 开工建设 出台 制定修订 获批 举办
    推出 创建 发放 达到 修复 治理 更新改造 开通 力争 确保 努力 预计 主要预期目标是 主要预期目标为""".split()
LEADING_SCOPE = re.compile(
    r"^(?:(?:" + "|".join(sorted(LEADING_WORDS, key=len, reverse=True)) +
    r"|(?:到|至)?\s*20\d\d\s*年(?:底|末)?|新建一批[^，]*和|依托[^，]*?(?=建设)建设|提请[^，]*?审议)\s*)+")
LEAD_FLOW = re.compile(r"^(新增|新建|新创建|新开工建设|新引进|新引入|新扩充|新改造|新认定|新培育|新引育)")
# Words that refer back to the previous figure's subject: "、占比 48.2%", "、增产 19.6亿斤".
ELLIPTIC = re.compile(r"^(?:占|比重|占比|总投资|总数|总量|损失数|增速|增幅)")
COUNT_UNITS = set("个家项条所位名件部支座处种批只门枚") | {"个百分点"}
# Where a counted noun phrase ends: the verb that follows it.
COUNT_NOUN_END = re.compile(r"\s|\d|和|全部|进入|转型|完成|当选|入选|实现|加快|获|纳入|达到|增长|晋级|落地|提请|开工|建成|"
                            r"投入|覆盖|通过|上线|成为|参与|免证|在|效果|发起|置换|用于|支持|让|"
                            r"增加值|营收|产量|[，；。：]")
# "160个国控断面中Ⅲ类…": a count that names the set the next figure is measured within.
DESCRIBED_SET_END = r"(?=[Ⅰ-Ⅻ\dA-Za-z]|有)"
DESCRIBED_SET = re.compile(r"[^，；。、\d\s]{1,10}中" + DESCRIBED_SET_END)
# The measured thing that a list shares: "高技术制造业、装备制造业增加值分别增长…".
SHARED_TAIL = re.compile(r"(增加值|零售额|吞吐量|人均可支配收入|人均月标准|人均财政补助标准|营收|收入|人数|产量|比例|占比|投资)$")
# An item that already ends in what it measures: 起数, 总量, 比率, 金额.
MEASURE_NOUN_END = re.compile(r"[数量率额值比重]$")
REVIEW_WORDS = re.compile(r"回顾|过去一年|一年来|去年")
PLAN_WORDS = re.compile(r"今年|预期目标|工作安排|重点工作|目标任务|政府工作任务|总体要求")
OTHER_PERIOD = re.compile(r"过去五年|五年来|十四五.{0,2}以来|近五年")


@dataclass(frozen=True)
class Figure:
    """One stated figure.  Invariants: `kind` is one of KINDS; `value` is a verbatim part of
    `quote`; `quote` is `text[start:end]` of the report it came from (checked by `cite`)."""
    indicator: str
    value: str
    number: float | None
    unit: str
    qualifier: str
    kind: str
    year: int | None
    section: str
    quote: str
    start: int
    end: int
    report: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.value not in self.quote:
            raise ValueError(f"value {self.value!r} is not in quote {self.quote!r}")
        if self.end - self.start != len(self.quote):
            raise ValueError("start/end do not span the quote")

    @property
    def stated(self) -> str:
        """The value as the report hedges it: "10%以上", "约2.5万亿元", "5%左右" (bound words before the
        value, hedges after it; direction words such as 增长 stay in the qualifier)."""
        words = self.qualifier.split()
        before = "".join(w for w in words if w in BOUND.values())
        after = "".join(w for w in words if re.fullmatch(HEDGE_AFTER, w))
        return f"{before}{self.value}{self.unit}{after}"

    def citation(self) -> Citation:
        """The figure as an answer's citation: its clause quoted, its value the span inside it."""
        at = self.start + max(self.quote.find(self.value), 0)
        return Citation(self.report, self.section, self.quote, self.start, self.end, -1, at, at + len(self.value))

    @classmethod
    def cite(cls, text: str, start: int, end: int, **fields) -> "Figure":
        """A figure quoting `text[start:end]`, so the citation is exact by construction."""
        return cls(quote=text[start:end], start=start, end=end, **fields)

    def to_dict(self) -> dict:
        return asdict(self)

    def row(self) -> list:
        """The figure's COLUMNS, as the CLI's table and CSV and the web page's CSV give them ("" for no year)."""
        d = asdict(self)
        return [d[c] if d[c] is not None else "" for c in COLUMNS]


# The columns a figure is listed with, in every table form (CLI table, CSV, the page's download).
COLUMNS = ("report", "indicator", "value", "unit", "qualifier", "kind", "year", "section", "quote", "start", "end")


@dataclass(frozen=True)
class _Number:
    """A figure found in a clause: its match, and where the clause and the number sit in the text."""
    match: re.Match
    offset: int          # where the clause starts in the report text

    @property
    def start(self) -> int:
        return self.offset + self.match.start()

    @property
    def end(self) -> int:
        return self.offset + self.match.end()


def report_year(doc) -> int | None:
    """The report's own year, as the parser read it from the cover or the part headings."""
    return doc.year


def extract_figures(doc, report: str = "") -> list[Figure]:
    """Every figure in a parsed `Document`, in text order."""
    year = report_year(doc)
    period_of = periods(doc)
    figures: list[Figure] = []
    for sent in doc.sentences:
        para = doc.paragraphs[sent.paragraph]
        if para.kind != "body":
            continue
        period = period_of[sent.paragraph]
        figures += _sentence_figures(doc.text, sent.start, sent.end, para.path, period, year, report)
    log.debug("extracted %d figures from %s", len(figures), report or doc.source)
    return figures


def periods(doc) -> list[str]:
    """"review", "plan" or "several" (years summed up: 过去五年) for each paragraph.  A part heading
    sets the period for its part, else the paragraph's own words (过去一年 / 今年 / 预期目标) do,
    else the previous paragraph's.  Within a part, a paragraph that opens on several years
    ("五年来，…") starts a stretch about them, until one opens on the single year again."""
    year = report_year(doc)
    out, current, part = [], "review", None
    for p in doc.paragraphs:
        opening = doc.text[p.start:p.start + OPENING]
        if p.part != part or not p.part:
            part = p.part
            current = _period_of(p.part, year) or _period_of(opening, year) or current
        if SEVERAL_YEARS.search(opening):
            current = "several"
        elif current == "several" and (REVIEW_WORDS.search(opening) or PLAN_WORDS.search(opening)):
            current = _period_of(opening, year)
        out.append(current)
    return out


def _period_of(words: str, year: int | None) -> str | None:
    if not words:
        return None
    years = {int(y) for y in YEAR_RE.findall(words)}
    if year and year in years or PLAN_WORDS.search(words):
        return "plan"
    if year and year - 1 in years or REVIEW_WORDS.search(words):
        return "review"
    return None


def _clauses(text: str, start: int, end: int):
    """(start, end) of each clause of the sentence text[start:end]."""
    i = start
    for j in range(start, end + 1):
        ratio_colon = text[j:j + 1] == "：" and text[j - 1:j].isdigit() and text[j + 1:j + 2].isdigit()
        if j == end or text[j] in CLAUSE_END and not ratio_colon:
            if j > i:
                yield i, j
            i = j + 1


def _sentence_figures(text, s_start, s_end, section, period, year, report) -> list[Figure]:
    out: list[Figure] = []
    quoted = _quoted_spans(text, s_start, s_end)
    previous = ""
    for c_start, c_end in _clauses(text, s_start, s_end):
        numbers = [n for n in _numbers(text, c_start, c_end) if not _inside(n.start, quoted)]
        for fig in _clause_figures(text, c_start, c_end, numbers, previous):
            out.append(_finish(fig, section, period, year, report, text, s_start))
            previous = out[-1].indicator
    return out


def _quoted_spans(text, start, end) -> list[tuple[int, int]]:
    """Spans inside “…” and 《…》: names, never figures."""
    spans = []
    for m in re.finditer(r"“[^”]*”|《[^》]*》", text[start:end]):
        spans.append((start + m.start(), start + m.end()))
    return spans


def _inside(pos: int, spans) -> bool:
    return any(a <= pos < b for a, b in spans)


def _numbers(text, c_start, c_end) -> list[_Number]:
    clause = text[c_start:c_end]
    found = []
    for m in FIGURE_RE.finditer(clause):
        before, after = clause[:m.start()], clause[m.end("value"):]
        if _is_name_or_date(m, before, after) or DESCRIBED_SET.match(clause[m.end():]):
            continue
        found.append(_Number(m, c_start))
    return found


def _is_name_or_date(m: re.Match, before: str, after: str) -> bool:
    value = m.group("value")
    unit = (m.group("unit") or "").strip()
    if YEAR_RE.fullmatch(value) and unit in ("", "年"):
        return True                                   # 2025年, "2024中国民营企业500强"
    if NOT_A_FIGURE_AFTER.match(after) and not unit:
        return True
    if re.match(r"\s*(?:年|月|日|周年|届|岁)", after):
        return not re.match(r"\s*年(?:试点|期)", after) and unit in ("", "年")
    if re.search(r"(?:前|[A-Za-z.Ⅰ-Ⅻ])\s*$", before):
        return True                                   # 前 1‰, PM2.5, 5G's neighbours
    if re.match(r"\s*[A-Za-z]", after):
        return True                                   # 5G, 6G
    if not unit and SERVICE_NUMBER_AFTER.match(after):
        return True                                   # 12345热线
    if not unit and ORDINAL_BEFORE.search(before) and re.match(r"\s*的", after):
        return True                                   # "全国第4的地位": a rank as an attribute
    return bool(re.fullmatch(r"\s*", before) and re.match(r"\.", after))   # 1.医疗卫生方面


def _clause_figures(text, c_start, c_end, numbers, previous) -> list[dict]:
    """Indicator, value, unit and qualifier of each number in one clause."""
    clause = text[c_start:c_end]
    if "分别" in clause and len(numbers) > 1:
        return _distributed(text, c_start, c_end, numbers)
    out, head_start, consumed = [], c_start, ""
    for i, n in enumerate(numbers):
        nxt = numbers[i + 1].start if i + 1 < len(numbers) else c_end
        head = text[head_start:n.start]
        if "、" in head and (i or _finished(head[:head.rindex("、")])):
            # "…1.4万亿斤新台阶、亩产提升10.1斤": the 、 opens this figure's own segment; so it does
            # after an item that is a whole event ("集结中心获批、全年开行班列909列").
            cut = head.rindex("、") + 1
            head_start, head = head_start + cut, head[cut:]
        elif consumed and _clean(head).startswith(consumed):
            # "1299个重大项目完成投资1.4万亿元": the count's noun is also this figure's subject.
            rest = _clean(head)[len(consumed):].lstrip("和、")
            head = consumed + rest if rest else ""
        after = text[n.end:nxt]
        ind, qual, consumed = _indicator(head, after, n, previous)
        seg_end = _segment_end(text, n.end, nxt, c_end)
        out.append(dict(n=n, indicator=ind, qualifier=_qualifier(qual, n), quote=(head_start, seg_end)))
        previous = ind or previous
        head_start = n.end
    return out


def _finished(item: str) -> bool:
    """An item before 、 that ends in a verb of completion says something happened; it is not one
    of several things a figure counts ("电子信息、装备制造")."""
    return bool(FINISHED.search(item))


def _segment_end(text, fig_end, next_start, c_end) -> int:
    """A figure's segment ends at the 、 that closes it, else where the next number starts."""
    m = re.search(r"、", text[fig_end:next_start])
    if m:
        return fig_end + m.start()
    return c_end if next_start == c_end else next_start


def _distributed(text, c_start, c_end, numbers) -> list[dict]:
    """"A、B增加值分别增长8.9%、7.7%": one figure per subject, sharing the tail noun."""
    head = text[c_start:numbers[0].start]
    subject, _, verb = head.partition("分别")
    subject = _clean(subject)
    items = re.split(r"[、]", subject) if "、" in subject else re.split(r"和", subject)
    if len(items) != len(numbers):
        items = [subject] * len(numbers)
    else:
        tail = SHARED_TAIL.search(items[-1])
        if tail:
            items = [it if SHARED_TAIL.search(it) or MEASURE_NOUN_END.search(it) else it + tail.group()
                     for it in items]
    qual = _tail_words(verb)
    return [dict(n=n, indicator=_strip_scope(it), qualifier=_qualifier(qual, n), quote=(c_start, c_end))
            for n, it in zip(numbers, items)]


def _clean(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _strip_scope(s: str) -> str:
    flow = LEAD_FLOW.match(s)
    s = LEADING_SCOPE.sub("", s)
    if flow and not s.startswith(flow.group()):
        s = flow.group() + s
    return s


def _tail_words(verb_text: str) -> list[str]:
    """Direction and bound words in the text between an indicator and its number."""
    words = []
    v = _clean(verb_text)
    if "累计" in v:
        words.append("累计")
    if v.startswith("预计") or "预计" in v:
        words.append("预计")
    for d in DIRECTION:
        if re.search(d + r"(?!到|至)", v) and not LEVEL_VERB.search(v):
            words.append(d)
            break
    if LEVEL_VERB.search(v):
        words.append("达到")
    for w, canon in BOUND.items():
        if re.search(w + r"(?:国家目标|全国平均|全省平均)?$", v) and canon not in words:
            words.append(canon)
            break
    return words


def _indicator(head: str, after: str, n: _Number, previous: str) -> tuple[str, list[str], str]:
    """The measured noun phrase before (or, for number-first counts, after) the number, the
    words between it and the number, and the counted noun taken from after the number."""
    h = _descriptor_cut(_clean(head))
    if "等" in h:
        flow = LEAD_FLOW.match(h)
        h = (flow.group() if flow else "") + h.rsplit("等", 1)[1]
    tail = TAIL_QUALIFIER.search(h)
    verb = tail.group() if tail and tail.group() else ""
    subject = COMPARISON.sub("", _strip_scope(h[:len(h) - len(verb)] if verb else h))
    subject = re.sub(r"(?:预期)?目标(?:确定)?$", "", subject)
    subject = re.sub(r"(?<=.)(?:由|从)$", "", subject)      # "关税总水平由9.8%降至7.5%": from … to
    if subject and len(subject) <= 2 and re.match(r"增长|下降", verb):
        subject, verb = subject + verb, ""            # 经济增长 5.5%: 增长 names the indicator
    counted = _counted_noun(after)
    if counted and (len(subject) <= 2 or _only_verbs(subject)):
        flow = LEAD_FLOW.match(_clean(head))
        return (flow.group() if flow else "") + counted, _tail_words(verb), counted
    if counted and _unit(n) in COUNT_UNITS:
        return subject + counted, _tail_words(verb), counted     # 出台服务业高质量发展30条措施
    if MULTIPLE_OF.fullmatch(subject) and previous:
        return previous, _tail_words(verb), ""        # "…1.7亿户，是十年前的3倍": the same subject, again
    if not subject or ELLIPTIC.match(subject) or ELLIPTIC.match(verb):
        if ELLIPTIC.match(subject) and subject.startswith("总"):
            previous = LEAD_FLOW.sub("", previous)    # a total is a stock: 新增 no longer applies
        subject = previous + subject
    return subject, _tail_words(verb), ""


def _descriptor_cut(h: str) -> str:
    """"160个国控断面中Ⅲ类…占比": what a figure is measured within is not its indicator."""
    m = re.search(r"\d\D*?中" + DESCRIBED_SET_END, h)
    return h[m.end():] if m else h


def _only_verbs(subject: str) -> bool:
    return bool(LEAD_FLOW.fullmatch(subject))


def _counted_noun(after: str) -> str:
    """"个重点产业链加快构建" → "重点产业链": the noun right after a number, up to the verb that
    follows it, without its 的-modifiers; "" when the clause goes on with no noun."""
    a = after.lstrip()
    m = COUNT_NOUN_END.search(a, 1)
    noun = a[:m.start()] if m else a
    if not noun or noun[0] in CLAUSE_END + "、和" or DESCRIBED_SET.match(a):
        return ""
    return noun.rsplit("的", 1)[-1].split("、")[0]


def _unit(n: _Number) -> str:
    unit = re.sub(r"\s+", "", n.match.group("unit") or "").replace("％", "%")
    if re.search(r"(?::|：)", n.match.group("value")):
        return ":"
    return "%" if not unit and re.search(PERCENT, n.match.group("value")) else unit


def _qualifier(words: list[str], n: _Number) -> str:
    """Direction, level and hedge words, space-joined in a fixed order."""
    words = list(words)
    for g in ("hedge1", "hedge2"):
        h = (n.match.group(g) or "").strip()
        if h:
            words.append(CANONICAL_HEDGE.get(h, h))
    return " ".join(dict.fromkeys(words))


def _finish(fig: dict, section, period, year, report, text, s_start) -> Figure:
    n: _Number = fig["n"]
    value = n.match.group("value").strip()
    before = text[s_start:n.start]
    kind, fig_year = _kind(before, period, year)
    qualifier = fig["qualifier"]
    if ORDINAL_BEFORE.search(text[max(s_start, n.start - 3):n.start]):
        qualifier = " ".join(filter(None, [qualifier, "第"]))
    q_start, q_end = fig["quote"]
    # "由全国第11位跃升至第5位": the next rank's 第 is not part of what this one measures.
    indicator = re.sub(r"第$", "", fig["indicator"]) if "第" in qualifier.split() else fig["indicator"]
    return Figure.cite(text, q_start, q_end, indicator=indicator, value=value,
                       number=float(re.match(NUM, value).group()), unit=_unit(n), qualifier=qualifier,
                       kind=kind, year=fig_year, section=section, report=report)


def _kind(before: str, period: str, year: int | None) -> tuple[str, int | None]:
    """Goal when the sentence names a later year before the figure; else the paragraph's period."""
    named = [int(y) for y in re.findall(r"(?<!\d)(20\d\d)\s*年", before)]
    if year and named and named[-1] > year:
        return "goal", named[-1]
    if OTHER_PERIOD.search(before) or period == "several" and not REVIEW_WORDS.search(before):
        return "other", None
    if period == "plan":
        return "target", year
    return "actual", (year - 1 if year else None)


# -- one indicator across reports ---------------------------------------------------------
def indicator_key(fig) -> str:
    """Reports name one indicator differently (经济增长 5.5%, 地区生产总值增长 5%, 国内生产总值增长 5%):
    the vocabulary's concept joins them; an indicator it does not know keeps its own name."""
    verb = next((w for w in fig.qualifier.split() if w in DIRECTION), "")
    vocabulary = Vocabulary.load()
    for words in (fig.indicator + verb, fig.indicator):
        concepts = vocabulary.topical(vocabulary.chinese(words))
        if len(concepts) == 1 and chinese_text(words) in concepts[0].zh:
            return concepts[0].zh[0]
    return fig.indicator


def actual_target_pairs(figures) -> list[tuple]:
    """Indicators of one report with both an actual value and a target in the same unit, in report
    order: (actual, target), the first of each."""
    actual, target = {}, {}
    for f in figures:
        side = actual if f.kind == "actual" else target if f.kind == "target" else None
        if side is not None and f.number is not None:
            side.setdefault((indicator_key(f), f.unit), f)
    return [(a, target[key]) for key, a in actual.items() if key in target]


def across_reports(figures, key: str, kind: str) -> list:
    """The first figure of each report whose indicator is `key`, of `kind`."""
    first = {}
    for f in figures:
        if f.kind == kind and indicator_key(f) == key:
            first.setdefault(f.report, f)
    return list(first.values())


def shared_indicators(figures) -> list[str]:
    """Indicators stated as a target or actual by two or more of the reports, the most widely stated first."""
    reports: dict[str, set] = {}
    for f in figures:
        if f.kind in ("actual", "target"):
            reports.setdefault(indicator_key(f), set()).add(f.report)
    shared = [k for k, ids in reports.items() if len(ids) > 1]
    return sorted(shared, key=lambda k: -len(reports[k]))
