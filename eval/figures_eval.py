"""Score `qa.figures.extract_figures` against the hand-labelled table eval/figures_gold.jsonl.

    python -m eval.figures_eval            # markdown table per report and field, fitted and held out
    python -m eval.figures_eval --misses   # and what the fitted table's rows got wrong

Labelling rules (how eval/figures_gold.jsonl was written, by reading the reports)
--------------------------------------------------------------------------------
- Scope: the bundled Henan 2024 report is labelled completely; the national and Zhejiang 2025
  reports completely in their main-results and main-targets paragraphs, plus a spread of
  sentences from the rest.  Whenever a sentence is labelled, every figure in it is labelled, so
  precision is measured over the labelled sentences (an extracted figure in a sentence nobody
  labelled is neither right nor wrong).
- A figure is an Arabic-numeral quantity that the report states: a level, a change, a count, a
  share, a ranking.  Not figures: years and dates (2025年, 9月26日, "2024中国民营企业500强"),
  numbers inside names (“415X”, “8+4”, 《…》, 5G, PM2.5, 3.0版, 第十四届), anniversaries,
  ages that describe a group (60岁以上), list numbers (1.医疗卫生方面), and thresholds that
  describe the thing counted (ESI 全球前 1‰, 前 20 位).
- Chinese numerals (一万, 两个, 三年, 宇通客车出口突破万辆) are not labelled: they are left
  out on purpose by the extractor too (they mostly name programmes: 三个一批, 十大战略).
- value: the number as written, from its first to its last digit, so a range keeps both bounds
  ("3-5", "5%—5.5") and a ratio both terms ("2.31:1"); number: the first bound / first term.
- unit: the measure after the number, multiplier included (万人, 亿斤, 万台（套）, 个百分点,
  分/千瓦时), ％ written %; "" for a bare number (城乡居民收入倍差 1.83); ":" for a ratio.
- indicator: the noun phrase measured, from the figure's own clause segment: leading scope and
  action words dropped (全省, 全年, 其中, 力争, 确保, 实施, 建设, 完成, 开展, 培育…), flow words
  kept (新增, 新建, 新开工建设 say the figure is a flow); examples before 等 dropped
  ("电子信息、装备制造等五大主导产业" → 五大主导产业); the verb before the number goes to the
  qualifier, except where it names the indicator (经济增长 5.5%).  A count written number-first
  ("7个先进制造业集群") measures the noun after the measure word.  A segment that refers back
  ("、占比 48.2%", "、增产 19.6亿斤") takes the previous figure's subject; a "分别" list gives one
  figure per named item, sharing the measured noun ("高技术制造业增加值", "装备制造业增加值").
- qualifier: space-joined, in this order: 累计, 预计, a direction word (增长, 下降, 提高, 上涨,
  增加, 增产, 降低, 减少…), 达到 for a level reached (达, 达到, 增至, 提高到, 上升至, 缩小至, 跃上),
  a bound (超过, 突破, 接近, 约, 低于, 优于…), then the hedge after the number (左右, 以上,
  以内, 多 — 余 is written 多).  "第" for a ranking.
- kind and year: actual = the reviewed year (report year − 1), including stocks and cumulative
  totals stated in the review; target = the plan year (the report's year), including
  comparisons with last year stated in the plan ("比上年增加5000亿元"); goal = a later year named
  in the sentence ("到2025年…" in a 2024 report), year = that year; other = a different past
  period (过去五年), year left empty.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from qa.figures import extract_figures
from qa.ingest.document import read_report

from .gold import report_file

HERE = Path(__file__).resolve().parent
GOLD = HERE / "figures_gold.jsonl"          # the table the rules were fitted on
# Labelled later, by someone who never saw the extractor's output, on two reports the rules were
# not fitted on (a national five-year review and a province): the held-out figures.
HELD_OUT = HERE / "figures_heldout.jsonl"
FIELDS = ("indicator", "indicator_norm", "indicator_loose", "value", "unit", "qualifier", "kind", "year")


def load_gold(path: Path = GOLD) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def normalise(s: str) -> str:
    """Indicator text without spacing, quotation marks or brackets: the same words either way."""
    return re.sub(r"[\s“”\"'《》「」]", "", s or "")


def _value(s: str) -> str:
    return re.sub(r"\s+", "", s).replace("％", "%")


def _field_equal(field: str, g: dict, e: dict) -> bool:
    if field == "indicator_norm":
        return normalise(g["indicator"]) == normalise(e["indicator"])
    if field == "indicator_loose":
        # The same measured noun, one wording holding the other ("城镇新增就业" / "全国城镇新增就业"):
        # labellers differ on scope words; a reader finds the row either way.
        a, b = sorted((normalise(g["indicator"]), normalise(e["indicator"])), key=len)
        return len(a) >= 2 and a in b
    if field == "value":
        return True                                   # matched pairs agree on value by construction
    return g[field] == e[field]


def match(gold: list[dict], extracted: list[dict]) -> list[tuple[dict, dict]]:
    """One-to-one pairs: same report, overlapping spans, same value; nearest start first."""
    pairs, used = [], set()
    for g in gold:
        g_end = g["start"] + len(g["quote"])
        candidates = [(abs(e["start"] - g["start"]), i) for i, e in enumerate(extracted)
                      if i not in used and e["report"] == g["report"]
                      and e["start"] < g_end and g["start"] < e["end"]
                      and _value(e["value"]) == _value(g["value"])]
        if candidates:
            i = min(candidates)[1]
            used.add(i)
            pairs.append((g, extracted[i]))
    return pairs


def in_scope(e: dict, spans: list[tuple[int, int]]) -> bool:
    """Does an extracted figure's quote overlap one of the labelled sentences' `spans`?"""
    return any(a < e["end"] and e["start"] < b for a, b in spans)


def score(gold_rows: list[dict], extracted: list[dict], sentences: dict | None = None) -> dict:
    """Precision and recall of indicator+value+kind together and of each field.

    `extracted` are `Figure.to_dict()` rows.  Precision counts only extracted figures inside the
    labelled sentences (`sentences`: {report: [(start, end), …]}; without it every extracted
    figure counts).  A field is right on a matched pair when it equals the gold row's.
    """
    if sentences is not None:
        extracted = [e for e in extracted if in_scope(e, sentences.get(e["report"], []))]
    pairs = match(gold_rows, extracted)
    n_gold, n_ext = len(gold_rows), len(extracted)

    def pr(ok: int) -> dict:
        return {"precision": ok / n_ext if n_ext else 0.0, "recall": ok / n_gold if n_gold else 0.0, "n": ok}

    main = sum(1 for g, e in pairs if all(_field_equal(f, g, e) for f in ("indicator_norm", "kind")))
    loose = sum(1 for g, e in pairs if all(_field_equal(f, g, e) for f in ("indicator_loose", "kind")))
    out = {"gold": n_gold, "extracted": n_ext, "matched": len(pairs),
           "indicator+value+kind": pr(main), "loose indicator+value+kind": pr(loose),
           "fields": {f: pr(sum(1 for g, e in pairs if _field_equal(f, g, e))) for f in FIELDS}}
    out["misses"] = [(g, e) for g, e in pairs if not all(_field_equal(f, g, e) for f in ("indicator_norm", "kind"))]
    matched_ids = {id(e) for _, e in pairs}
    matched_gold = {id(g) for g, _ in pairs}
    out["unmatched_gold"] = [g for g in gold_rows if id(g) not in matched_gold]
    out["spurious"] = [e for e in extracted if id(e) not in matched_ids]
    return out


def anchored(rows: list[dict], text: str) -> list[dict]:
    """Rows whose `start` is an offset into the report file, moved to the parsed text (which drops
    blank lines): to the occurrence of their quote nearest the file offset."""
    out = []
    for r in rows:
        if text[r["start"]:r["start"] + len(r["quote"])] != r["quote"]:
            hits = [m.start() for m in re.finditer(re.escape(r["quote"]), text)]
            if not hits:
                raise ValueError(f"{r['report']}: quote {r['quote']!r} is not in the parsed text")
            r = dict(r, start=min(hits, key=lambda h: abs(h - r["start"])))
        out.append(r)
    return out


def labelled_sentences(doc, rows: list[dict]) -> list[tuple[int, int]]:
    """The sentences of `doc` that hold a labelled figure."""
    spans = {}
    for r in rows:
        s = doc.sentence_at(r["start"])
        spans[s.start] = (s.start, s.end)
    return sorted(spans.values())


def evaluate(gold: list[dict] | None = None) -> dict:
    """Per report and overall scores, with the time extraction took per report."""
    gold = gold if gold is not None else load_gold()
    results, all_ext, sentences = {}, [], {}
    for rid in dict.fromkeys(g["report"] for g in gold):
        doc = read_report(report_file(rid))
        rows = anchored([g for g in gold if g["report"] == rid], doc.text)
        t = time.perf_counter()
        ext = [f.to_dict() for f in extract_figures(doc, report=rid)]
        ms = (time.perf_counter() - t) * 1000
        sentences[rid] = labelled_sentences(doc, rows)
        results[rid] = score(rows, ext, {rid: sentences[rid]})
        results[rid]["rows"] = rows
        results[rid]["ms"] = ms
        all_ext += ext
    results["all"] = score([r for rid in results for r in results[rid]["rows"]], all_ext, sentences)
    return results


def markdown(results: dict) -> str:
    lines = ["| report | gold | extracted | indicator+value+kind P | R | loose indicator+value+kind P | R | " +
             " | ".join(f"{f} P / R" for f in FIELDS) + " | ms |",
             "|---" * (7 + len(FIELDS) + 1) + "|"]
    for rid, r in results.items():
        m, lo = r["indicator+value+kind"], r["loose indicator+value+kind"]
        cells = [f"{r['fields'][f]['precision']:.3f} / {r['fields'][f]['recall']:.3f}" for f in FIELDS]
        ms = f"{r['ms']:.1f}" if "ms" in r else ""
        lines.append(f"| {rid} | {r['gold']} | {r['extracted']} | {m['precision']:.3f} | {m['recall']:.3f} | "
                     f"{lo['precision']:.3f} | {lo['recall']:.3f} | " + " | ".join(cells) + f" | {ms} |")
    return "\n".join(lines)


def key_figures_section() -> str:
    """The evaluation report's section on extraction: the fitted table and the held-out one."""
    fitted, held_out = evaluate(load_gold(GOLD)), evaluate(load_gold(HELD_OUT))
    return ("## Key figures: extraction against hand-labelled tables\n\n"
            f"**Fitted** (`{GOLD.name}`: the extraction rules were written against this table, so these "
            f"figures are in-sample):\n\n{markdown(fitted)}\n\n"
            f"**Held out** (`{HELD_OUT.name}`: labelled from the report text by someone who never saw the "
            "extractor's output, on two reports the rules were not fitted on; offsets are into the report "
            f"file and are moved to the parsed text):\n\n{markdown(held_out)}\n\n"
            "*Loose indicator*: one wording holds the other (城镇新增就业 / 全国城镇新增就业); labellers "
            "differ on scope words, and a reader finds the row either way.\n")


def _misses(results: dict) -> str:
    out = []
    for g, e in results["all"]["misses"]:
        out.append(f"- wrong {g['report']} {g['value']}: gold {g['indicator']}/{g['kind']} got {e['indicator']}/{e['kind']}")
    for g in results["all"]["unmatched_gold"]:
        out.append(f"- missed {g['report']} {g['value']} {g['indicator']} «{g['quote']}»")
    for e in results["all"]["spurious"]:
        out.append(f"- spurious {e['report']} {e['value']}{e['unit']} {e['indicator']} «{e['quote']}»")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for title, path in (("fitted on", GOLD), ("held out", HELD_OUT)):
        results = evaluate(load_gold(path))
        print(f"{title}: {path.name}\n{markdown(results)}\n")
        if "--misses" in argv and path == GOLD:
            print(_misses(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
