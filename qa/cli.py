"""Command line: `python -m qa add|list|remove|log|repair|ask|chat|search|compare|figures|build|user`.

Every command prints its result on stdout (JSON only, with --json) and exits 0; a bad input
prints `error: <one line>` on stderr and exits 2.  The library's notices go to stderr as log lines.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import signal
import sys
import unicodedata
from pathlib import Path

from .engine import EMPTY_LIBRARY, ReportQA, clean_question
from .errors import AccessError, QuestionError, ReportError, ReportQAError, StoreDamagedError
from .ask.retriever import MODES
from .figures import COLUMNS as FIGURE_COLUMNS, KINDS
from .ingest.pipeline import read_all
from .logs import configure_logging
from .schema import Answer, Passage
from .users import ROLES, Users
from . import writer

NOT_STATED = "—  not stated"
# Report ids are made of these ("henan-2024", "national-2025-2"), so any other --report value is a file.
REPORT_ID = re.compile(r"[a-z0-9-]+")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """A usage mistake is one `error:` line and status 2, like every other bad input."""
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


# -- arguments -----------------------------------------------------------------------------
def library_options(p: argparse.ArgumentParser) -> None:
    """--library, --model and --store: the options every command and the web app (app.py) share."""
    p.add_argument("--library", metavar="DIR", default=None,
                   help="the library directory (default: $REPORT_QA_LIBRARY, else the bundled report's, index/ in a checkout)")
    p.add_argument("--model", default=None, help="a sentence-transformers name or local path (default: multilingual-e5-small)")
    p.add_argument("--store", metavar="URI", default=None, help="faiss (default), a Milvus Lite .db file, or http://host:19530 for a Milvus server ($REPORT_QA_STORE)")


def _reports(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--report", metavar="ID", action="append", default=[], help=help)


def _json(p: argparse.ArgumentParser, help: str = "print JSON") -> None:
    p.add_argument("--json", action="store_true", help=help)


def _index(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", metavar="DIR", default=None, help="the library directory (older name of --library)")


def _question(p: argparse.ArgumentParser) -> None:
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="passages to retrieve (1-50)")


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m qa", description="Cited extractive answers from government work reports.")
    sub = ap.add_subparsers(dest="command", required=True)
    for p in _library_commands(sub) + _question_commands(sub) + [_figures_command(sub)]:
        library_options(p)
    _user_command(sub)
    sub.add_parser("write", help="one library write read as JSON on stdin, at low priority "
                                 "(the web server runs it in a child process; see qa/writer.py)")
    return ap


def _library_commands(sub) -> list[argparse.ArgumentParser]:
    add = sub.add_parser("add", help="add .txt, .pdf or .docx reports to the library")
    add.add_argument("files", nargs="+", metavar="FILE")
    same = add.add_mutually_exclusive_group()
    same.add_argument("--replace", action="store_true",
                      help="a report with the title and year of one in the library takes its place")
    same.add_argument("--keep-both", action="store_true",
                      help="a report with the title and year of one in the library is kept beside it")
    _json(add, "print the reports as JSON")
    lst = sub.add_parser("list", help="list the library's reports")
    _json(lst, "print the reports as JSON")
    remove = sub.add_parser("remove", help="remove a report from the library")
    remove.add_argument("id", metavar="ID")
    _json(remove, "print the removed report as JSON")
    changes = sub.add_parser("log", help="every change made to the library: when, who, what, which file")
    _json(changes, "print the changes as JSON")
    repair = sub.add_parser("repair", help="check the library and make again what is damaged, from the stored texts")
    build = sub.add_parser("build", help="embed every report of a library again")
    build.add_argument("report_path", nargs="?", default=None, metavar="REPORT",
                       help="make the library hold just this report file")
    _json(build, "print the library's reports and model as JSON")
    _index(build)
    return [add, lst, remove, changes, repair, build]


def _question_commands(sub) -> list[argparse.ArgumentParser]:
    ask = sub.add_parser("ask", help="answer a question with a verbatim span and its citation")
    search = sub.add_parser("search", help="list the passages closest to a query")
    for p in (ask, search):
        _question(p)
        p.add_argument("--mode", choices=MODES, default="hybrid")
        _json(p, "print JSON (ask: exactly Answer.to_dict())")
        _reports(p, "a report id to answer from (repeat for several; default: the reports the question names, "
                    "else all); or a report FILE, answered on its own")
        _index(p)
    ask.add_argument("--history", metavar="Q", action="append", default=[],
                     help="an earlier question of the conversation, oldest first (repeat): the question may "
                          "follow up on them (那去年呢？)")
    chat = sub.add_parser("chat", help="a conversation: questions from the terminal (or stdin), each may follow "
                                       "up on the ones before; /reset starts again")
    _reports(chat, "a report id to ask (repeat for several; default: the reports each question names, else all)")
    chat.add_argument("-k", type=int, default=5, help="passages to retrieve (1-50)")
    _json(chat, "one JSON answer (Answer.to_dict()) per input line, for scripts")
    compare = sub.add_parser("compare", help="ask each report the same question, one row per report")
    _question(compare)
    _json(compare, "print a list of Answer.to_dict(), one per report")
    _reports(compare, "a report id to compare (repeat for several; default: every report)")
    return [ask, search, chat, compare]


def _figures_command(sub) -> argparse.ArgumentParser:
    figures = sub.add_parser("figures", help="every figure the reports state, with its citation")
    _reports(figures, "a report id (repeat for several; default: every report)")
    figures.add_argument("--kind", choices=KINDS, default=None, help="only figures of this kind")
    form = figures.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print CSV (UTF-8)")
    _json(form, "print a list of Figure.to_dict()")
    return figures


def _user_command(sub) -> None:
    """`user add|remove|list`: the web app's credentials file (app.py --auth FILE); no library needed."""
    user = sub.add_parser("user", help="make, change, remove or list the web page's users (app.py --auth FILE)")
    acts = user.add_subparsers(dest="action", required=True)
    add = acts.add_parser("add", help="add a user, or give a known one a new role and password")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True,
                     help="reader: asks, compares, reads figures; editor: also adds and removes reports")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of stdin (for scripts) instead of asking twice")
    remove = acts.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    lst = acts.add_parser("list", help="the users and their roles")
    _json(lst, "print the users as JSON")
    for p in (add, remove, lst):
        p.add_argument("--auth", metavar="FILE", required=True, help="the users file (created by the first `add`)")


# -- opening the library -------------------------------------------------------------------
def _is_file(value: str) -> bool:
    return not REPORT_ID.fullmatch(value) or Path(value).is_file()


def _open(a: argparse.Namespace) -> ReportQA:
    """The library the options name.  A report FILE (ask/search --report, build REPORT) opens a library
    of that report alone, as the single-report engine did."""
    index = getattr(a, "index", None)
    if a.library and index:
        raise ReportError("--library and --index both name the library directory; give one of them.")
    files = [v for v in a.report if _is_file(v)] if a.command in ("ask", "search") else []
    report = getattr(a, "report_path", None) or (files[0] if files else None)
    if files and len(a.report) > 1:
        raise ReportError("--report takes either one report file or report ids, not both or several files.")
    if report and a.library:
        # Opening a library for one file removes every other report from it.
        raise ReportError(f"{report} would replace the library's reports; add it with "
                          f"`python -m qa add {report} --library {a.library}` and ask it with --report ID.")
    return ReportQA.load(library=a.library, report=report, index_dir=index, model=a.model,
                         rebuild=a.command == "build", progress=_progress(), store=a.store)


def _progress() -> bool:
    """Progress bars for a person at a terminal; none in logs and pipes."""
    return sys.stderr.isatty()


def _report_ids(a: argparse.Namespace) -> list[str] | None:
    """The --report values that are ids (a file was opened as the library itself); None: let the engine pick."""
    return [v for v in a.report if not _is_file(v)] or None


# -- commands -----------------------------------------------------------------------------
def cmd_add(a: argparse.Namespace) -> str:
    # Every file read (once) and checked before the library opens: a bad one among several stores none.
    sources = read_all(a.files)
    try:
        qa = _open(a)
    except KeyboardInterrupt:
        print("interrupted: added none; the other files were not added", file=sys.stderr)
        raise
    known = {r.sha256 for r in qa.reports()}
    before, added = set(known), []
    # Several files: one bar over the files (each report's own embedding bar would scroll past).
    several = len(a.files) > 1 and _progress()
    try:
        for source in _files_bar(sources) if several else sources:
            report = qa.add(source, progress=_progress() and not several, replace=a.replace, keep_both=a.keep_both)
            added.append((report, report.sha256 in known))
            known.add(report.sha256)
    except KeyboardInterrupt:
        # Each report lands whole or not at all; the library says which did (the signal may have
        # come after a report was written and before its add returned).
        landed = [r.id for r in qa.reports() if r.sha256 not in before]
        print(f"interrupted: added {', '.join(landed) or 'none'}; the other files were not added", file=sys.stderr)
        raise
    if a.json:
        return _dumps([r.to_dict() for r, _ in added])
    return "\n".join(f"{r.id}  {r.title}  {r.chars:,} characters" + ("  (already in the library)" if old else "")
                     for r, old in added)


def _files_bar(sources):
    """The files read, with a progress bar on stderr naming the one being added."""
    from tqdm.auto import tqdm
    bar = tqdm(sources, desc="Adding reports", unit="report", file=sys.stderr)
    for source in bar:
        bar.set_postfix_str(source.name)
        yield source


def cmd_list(a: argparse.Namespace) -> str:
    qa = _open(a)
    reports = qa.reports()
    if a.json:
        return _dumps([r.to_dict() for r in reports])
    if not reports:
        return f"The library in {qa.library.root} has no reports."
    return table(("id", "title", "region", "year", "date", "speaker", "chars", "chunks"),
                 [(r.id, r.title, r.region, r.year or "", r.date, r.speaker, f"{r.chars:,}", r.chunks)
                  for r in reports])


def cmd_log(a: argparse.Namespace) -> str:
    changes = _open(a).log()
    if a.json:
        return _dumps([c.to_dict() for c in changes])
    if not changes:
        return "No changes recorded."
    return table(("when", "user", "action", "report", "file", "sha256"),
                 [(c.at, c.user, c.action, c.report, c.file, c.sha256[:12]) for c in changes])


def cmd_repair(a: argparse.Namespace) -> str:
    """A FAISS library repairs what is damaged when it opens; a Milvus library is rebuilt from its stored
    texts; a Milvus Lite file that cannot be opened at all is set aside and a new library started."""
    store = a.store or os.environ.get("REPORT_QA_STORE") or ""
    try:
        qa = _open(a)
    except StoreDamagedError:
        if not store.endswith(".db"):
            raise
        from .store.milvus_client import set_aside
        aside = set_aside(Path(store))
        qa = _open(a)
        return (f"The Milvus Lite file {store} could not be opened; it is kept as {aside}, and a new, empty "
                f"library is in its place: add the report files again.")
    if store and store != "faiss":
        qa.library.rebuild(progress=_progress())
    reports = qa.reports()
    return f"The library in {qa.library.root} is whole: {len(reports)} report(s), checked and repaired where needed."


def cmd_write(a: argparse.Namespace) -> str:
    """The child of qa.writer: its reply, the report or the error, is JSON on stdout."""
    def engine(address: dict, model: str | None) -> ReportQA:
        return ReportQA.load(library=address["library"], store=address["store"], model=model, progress=False)
    return writer.serve(json.loads(sys.stdin.read()), engine)


def cmd_remove(a: argparse.Namespace) -> str:
    gone = _open(a).remove(a.id)
    return _dumps(gone.to_dict()) if a.json else f"Removed {gone.id} ({gone.title})."


def cmd_ask(a: argparse.Namespace) -> str:
    qa = _open(a)
    ans = qa.ask(a.question, k=a.k, mode=a.mode, report=_report_ids(a), history=a.history)
    return _dumps(ans.to_dict()) if a.json else format_answer(ans, _titles(qa))


def cmd_chat(a: argparse.Namespace) -> None:
    """Questions from stdin, one a line, answered as one conversation; each answer is printed as it
    comes (with --json, one JSON object a line).  A bad question is an `error:` line on stderr and
    the conversation goes on."""
    qa = _open(a)
    chat, titles = qa.chat(report=a.report or None), _titles(qa)
    person = sys.stdin.isatty() and not a.json
    if person:
        print("Ask about the reports; follow-ups may lean on earlier questions (那去年呢？). "
              "/reset starts a new conversation, Ctrl+D ends.", file=sys.stderr)
    while True:
        if person:
            print("? ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            continue
        if line in ("/reset", "/clear"):
            chat.reset()
            continue
        try:
            ans = chat.ask(line, k=a.k)
        except QuestionError as e:
            print(f"error: {e}", file=sys.stderr)
            continue
        _emit(json.dumps(ans.to_dict(), ensure_ascii=False) if a.json else format_answer(ans, titles) + "\n")


def _emit(text: str) -> None:
    """A line of the conversation, on the real stdout at once (main sends stray prints to stderr)."""
    sys.__stdout__.write(text + "\n")
    sys.__stdout__.flush()


def cmd_search(a: argparse.Namespace) -> str:
    passages = _open(a).search(a.question, k=a.k, mode=a.mode, report=_report_ids(a))
    return _dumps([p.to_dict() for p in passages]) if a.json else format_passages(passages)


def cmd_compare(a: argparse.Namespace) -> str:
    qa = _open(a)
    # The ids are passed explicitly so that each answer can be paired with the report it was asked of.
    ids = a.report or [r.id for r in qa.reports()]
    if not ids:
        raise ReportError(EMPTY_LIBRARY)
    answers = qa.compare(a.question, reports=ids, k=a.k)
    if a.json:
        # A not-found answer quotes no report, so `report` names the report it was asked of.
        return _dumps([{**ans.to_dict(), "report": rid} for rid, ans in zip(ids, answers)])
    return table(("report", "answer", "section"),
                 [(rid, ans.text if ans.found else NOT_STATED, ans.citations[0].section if ans.found else "")
                  for rid, ans in zip(ids, answers)])


def cmd_figures(a: argparse.Namespace) -> str:
    qa = _open(a)
    figures = [f for rid in (a.report or [None]) for f in qa.figures(report=rid)
               if a.kind is None or f.kind == a.kind]
    if a.json:
        return _dumps([f.to_dict() for f in figures])
    rows = [f.row() for f in figures]
    return to_csv(FIGURE_COLUMNS, rows) if a.csv else table(FIGURE_COLUMNS, rows)


def cmd_build(a: argparse.Namespace) -> str:
    qa = _open(a)
    reports = qa.reports()
    if a.json:
        return _dumps({"library": str(qa.library.root), "model": qa.embedder.model_id,
                       "reports": [r.to_dict() for r in reports]})
    return (f"Indexed {len(reports)} report(s), {sum(r.chunks for r in reports)} chunks and "
            f"{sum(r.sentences for r in reports)} sentences with {qa.embedder.model_id} in {qa.library.root}.")


def cmd_user(a: argparse.Namespace) -> str:
    users = Users(a.auth)
    if a.action == "list":
        found = sorted((name, u["role"]) for name, u in users.all().items())
        if a.json:
            return _dumps([{"name": n, "role": r} for n, r in found])
        return table(("user", "role"), found) if found else f"No users in {a.auth}."
    if a.action == "remove":
        users.remove(a.name)
        return f"Removed {a.name} from {a.auth}; they can no longer sign in or change the library."
    new = users.add(a.name, a.role, _password(a.password_stdin))
    return f"{'Added' if new else 'Changed'} {a.name} ({a.role}) in {a.auth}."


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AccessError("The two passwords differ; nothing was changed.", code="password_mismatch")
    return first


COMMANDS = {"add": cmd_add, "list": cmd_list, "remove": cmd_remove, "log": cmd_log, "repair": cmd_repair,
            "ask": cmd_ask, "chat": cmd_chat, "search": cmd_search, "compare": cmd_compare, "figures": cmd_figures,
            "build": cmd_build, "user": cmd_user, "write": cmd_write}


# -- output -------------------------------------------------------------------------------
def _dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


def _titles(qa: ReportQA) -> dict[str, str]:
    return {r.id: r.title for r in qa.reports()}


def format_answer(ans: Answer, titles: dict[str, str]) -> str:
    head = [f"理解为 Understood as: {ans.resolved}", ""] if ans.carried else []
    if not ans.found:
        lines = head + [ans.message] + ([""] if ans.passages else []) + \
            [f"  [{i}] {p.report} › {p.section}\n      {p.text}" for i, p in enumerate(ans.passages, 1)]
        return "\n".join(lines + _others(ans))
    c = ans.citations[0]
    return "\n".join(head + [
        ans.text, "", f"[1] {titles.get(c.report, c.report)} ({c.report})", f"    {c.section}",
        f"    “{c.quote}”", f"    characters {c.start}–{c.end} · confidence {ans.confidence:.2f}"] + _others(ans))


def _others(ans: Answer) -> list[str]:
    """The other reports' answers to a question that named no one report, as compare shows them."""
    if not ans.others:
        return []
    rows = [(o.report, o.text if o.found else NOT_STATED, o.citations[0].section if o.found else "")
            for o in ans.others]
    return ["", f"The question named no one report; the other {len(rows)} report(s):",
            table(("report", "answer", "section"), rows)]


def format_passages(passages: list[Passage]) -> str:
    return "\n".join(f"[{i}] {p.score:.3f}  {p.report} › {p.section}\n    {p.text}"
                     for i, p in enumerate(passages, 1))


def _width(text: str) -> int:
    """Columns a terminal gives the text: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers, rows) -> str:
    """Rows as aligned columns, two spaces apart; the last column is not padded."""
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(("  ".join(v + " " * (w - _width(v)) for v, w in zip(row[:-1], widths)) + "  " + row[-1]).rstrip()
                     for row in cells)


def to_csv(headers, rows) -> str:
    out = io.StringIO()
    # "\n" rows: stdout is a text stream and turns them into the platform's line ends itself.
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


# -- running ------------------------------------------------------------------------------
def run(a: argparse.Namespace) -> str:
    if getattr(a, "question", None) is not None:
        clean_question(a.question)     # a bad question fails before the library and model load
    return COMMANDS[a.command](a)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # Reports are Chinese: the output is UTF-8 whatever the locale, and a message never fails to print.
    # (A caller may have swapped in streams that cannot be reconfigured, such as StringIO.)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    if hasattr(sys.stderr, "reconfigure"):
        sys.stderr.reconfigure(errors="backslashreplace")
    a = parser().parse_args(argv)
    configure_logging()
    # `kill` (SIGTERM) ends a command as Ctrl+C does: what was written stays, and it is said.
    with contextlib.suppress(ValueError):      # only the main thread may set it (tests call main too)
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.redirect_stdout(sys.stderr):   # a library's stray print must not reach stdout
            out = run(a)
        if out is not None:         # chat has printed its answers as they came
            print(out)
    except ReportQAError as e:
        for line in str(e).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): silence the flush at exit instead of a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
