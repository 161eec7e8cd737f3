"""The README's examples, read from README.md itself and run as printed (tests/test_readme.py).

How an example is written in README.md, and what is checked:

- A ```console block: each line starting with `$ ` is a command, run by bash from the repository's
  root; the lines after it, up to the next `$ ` line, are what it prints: its stdout, then its
  `error:` lines from stderr (progress bars and notices on stderr are not shown).  A line that is
  only `…` stands for any number of lines; `…` inside a line for any text.  Trailing spaces do not
  count.  A command whose shown output has an `error:` line must fail (exit status 2), any other
  must succeed.
- A ```bash block: run by bash as one script (stopping at the first failing command); it must
  succeed; its output is not checked.
- A ```python block: run by Python statement by statement, in one namespace.  A `print(...)` with a
  comment after it (on its line, or on the comment lines right below it) must print that comment; an
  expression whose comment starts with a Python literal (`ans.found  # True`, or a tuple on the
  comment line below) must equal that literal.  Other comments are prose.
- Blocks of any other language, or none, are not examples.
- An HTML comment on the line right above a block's opening fence marks it:
    <!-- example: not run (why) -->   never run; say why (a server address, an install).
    <!-- example: server -->          run while `python app.py` serves the default library on a free
                                      port, which replaces 127.0.0.1:7860 in the block.
    <!-- example: slow (why) -->      run only when REPORT_QA_README_SLOW=1 (.ci/run sets it).

The examples run in their order in the README, in one working directory that holds a copy of the
repository's files, so that what one example makes (a library) the next one can use.
"""
from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from contextlib import redirect_stdout
from dataclasses import dataclass, field

FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"^<!--\s*example:\s*(not run|server|slow)\b\s*(?:\((.*)\))?\s*-->\s*$")
RUN = ("console", "bash", "python")
SERVER = "127.0.0.1:7860"


@dataclass
class Example:
    lang: str
    line: int                   # the opening fence's line number in README.md
    text: str
    mark: str = ""              # "", "not run", "server" or "slow"
    why: str = ""
    commands: list = field(default_factory=list)     # console: (command, shown output lines)


def examples(readme: str) -> list[Example]:
    """Every fenced block of README.md in a language that runs, in order."""
    lines, out, i = readme.splitlines(), [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        if m[1] in RUN:
            mark = MARK.match(lines[i - 1]) if i else None
            ex = Example(m[1], i + 1, "\n".join(lines[i + 1:end]) + "\n", *(mark.groups("") if mark else ("", "")))
            if ex.lang == "console":
                ex.commands = console_commands(ex.text)
            out.append(ex)
        i = end + 1
    return out


def console_commands(text: str) -> list[tuple[str, list[str]]]:
    commands = []
    for line in text.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
    return commands


def shown(stdout: str, stderr: str) -> list[str]:
    """What a command's example shows of its output: stdout, then stderr's `error:` lines."""
    return [ln.rstrip() for ln in stdout.splitlines()] + [ln.rstrip() for ln in stderr.splitlines()
                                                          if ln.startswith("error:")]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the shown lines fit the actual ones, `…` standing for anything (see the docstring)."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if ln.strip() == "…" else
                      ".*?".join(map(re.escape, ln.rstrip().split("…"))) + r"\n" for ln in expected)
    return re.fullmatch(pattern, "".join(ln + "\n" for ln in actual)) is not None


# -- python blocks -------------------------------------------------------------------------------
def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment on it."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string[1:].strip()
    return out


def _said(stmt: ast.stmt, comments: dict[int, str], lines: list[str], taken: set[int]) -> list[str]:
    """The comment after a statement: on its last line (unless another statement on that line comes
    later), else the comment-only lines right below it."""
    end = stmt.end_lineno
    if end in comments and end not in taken:
        return [comments[end]]
    said, n = [], end + 1
    while n <= len(lines) and lines[n - 1].lstrip().startswith("#"):
        said.append(comments[n])
        n += 1
    return said


def _literal(comment: str):
    """(True, value) when the comment starts with a Python literal, else (False, None)."""
    for end in range(len(comment), 0, -1):
        head = comment[:end].strip()
        if head and not head[-1].isspace():
            try:
                return True, ast.literal_eval(head)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
    return False, None


def run_python(source: str) -> None:
    """Run a python example statement by statement; AssertionError at the first value or printed
    line that differs from what its comment says."""
    tree, lines, comments = ast.parse(source), source.splitlines(), _comments(source)
    namespace: dict = {"__name__": "__readme__"}
    body = tree.body
    for k, stmt in enumerate(body):
        later_on_line = {s.lineno for s in body[k + 1:]}
        said = _said(stmt, comments, lines, later_on_line)
        code = compile(ast.Module([stmt], []), f"README.md python line {stmt.lineno}", "exec")
        is_print = (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                    and getattr(stmt.value.func, "id", "") == "print")
        if is_print:
            buf = io.StringIO()
            with redirect_stdout(buf):
                exec(code, namespace)
            printed = buf.getvalue().splitlines()
            sys.stdout.write(buf.getvalue())
            if said:
                assert matches(said, printed), f"line {stmt.lineno} printed {printed!r}, the README shows {said!r}"
        elif isinstance(stmt, ast.Expr) and said:
            known, value = _literal(" ".join(said))
            got = eval(compile(ast.Expression(stmt.value), f"README.md python line {stmt.lineno}", "eval"), namespace)
            if known:
                assert got == value, f"line {stmt.lineno}: {lines[stmt.lineno - 1].strip()} is {got!r}, the README shows {value!r}"
        else:
            exec(code, namespace)
