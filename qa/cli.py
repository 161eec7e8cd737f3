"""Command line: `python -m qa ask|search|build`."""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys

from .engine import ReportQA, clean_question
from .errors import ReportQAError
from .ask.retriever import MODES
from .schema import Answer, Passage


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report", default=None, help="a report in the same plain-text form (default: the bundled one)")
    p.add_argument("--index", default=None, help="index directory (default: index/ in a checkout, else the user cache)")
    p.add_argument("--model", default=None, help="a sentence-transformers name or local path (default: multilingual-e5-small)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m qa", description="Cited extractive answers from a government work report.")
    sub = ap.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer a question with a verbatim span and its citation")
    search = sub.add_parser("search", help="list the passages closest to a query")
    for p in (ask, search):
        p.add_argument("question")
        p.add_argument("-k", type=int, default=5, help="passages to retrieve (1-50)")
        p.add_argument("--mode", choices=MODES, default="hybrid")
        p.add_argument("--json", action="store_true", help="print JSON (ask: exactly Answer.to_dict())")
        _common(p)
    build = sub.add_parser("build", help="(re)build the index of a report")
    build.add_argument("report_path", nargs="?", default=None, help="report text file (default: the bundled one)")
    _common(build)
    return ap


def format_answer(ans: Answer) -> str:
    if not ans.found:
        lines = [ans.message, ""] + [f"  [{i}] {p.section}\n      {p.text}" for i, p in enumerate(ans.passages, 1)]
        return "\n".join(lines)
    c = ans.citations[0]
    return (f"{ans.text}\n\n[1] {c.section}\n    “{c.quote}”\n    characters {c.start}–{c.end}"
            f" · confidence {ans.confidence:.2f}")


def format_passages(passages: list[Passage]) -> str:
    return "\n".join(f"[{i}] {p.score:.3f}  {p.section}\n    {p.text}" for i, p in enumerate(passages, 1))


def run(a: argparse.Namespace) -> str:
    if a.command != "build":
        clean_question(a.question)     # a bad question fails before the model loads
    report = getattr(a, "report_path", None) or a.report
    qa = ReportQA.load(report=report, index_dir=a.index, model=a.model, rebuild=a.command == "build")
    if a.command == "build":
        m = qa.index.manifest
        return f"Indexed {m['chunks']} chunks and {m['sentences']} sentences with {m['model_id']} in {m['build_seconds']} s."
    if a.command == "search":
        passages = qa.search(a.question, k=a.k, mode=a.mode)
        return json.dumps([p.to_dict() for p in passages], ensure_ascii=False, indent=2) if a.json \
            else format_passages(passages)
    ans = qa.ask(a.question, k=a.k, mode=a.mode)
    return json.dumps(ans.to_dict(), ensure_ascii=False, indent=2) if a.json else format_answer(ans)


def configure_logging(level: int = logging.INFO) -> None:
    """The library's notices (first-use builds, repairs, fallbacks) as plain lines on stderr, so
    stdout carries only the command's result."""
    logger = logging.getLogger("qa")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    configure_logging()
    try:
        with contextlib.redirect_stdout(sys.stderr):   # a library's stray print must not reach stdout
            out = run(a)
        print(out)
    except ReportQAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
