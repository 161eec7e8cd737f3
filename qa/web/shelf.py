"""What the page asks of the engine: the ReportQA facade, named as the page names things.

No lock: ReportQA is built for concurrent readers (questions read a snapshot; adds are serialised
inside it), and the API test puts 24 clients on it at once.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..engine import ReportQA
from ..errors import QuestionError, ReportQAError
from ..schema import Answer

log = logging.getLogger(__name__)

USER_SHOWN_CHARS = 600       # a longer question is shown (and echoed by the API) cut short
def report_ids(report) -> list[str] | None:
    """The API's `report` argument: "" for every report, an id, or ids separated by commas; a
    picker's list passes through.  None means every report.  Anything else a request may carry
    (`report=123`, true, an object) is read as its text, so it names an unknown report instead of
    failing inside the page."""
    if report is None:
        return None
    if not isinstance(report, (list, tuple)):
        report = str(report).split(",")
    ids = [str(r).strip() for r in report if r is not None and str(r).strip()]
    return ids or None


def echo(question) -> str:
    """The question as a refusal repeats it: cut to what the chat shows, so a 10-million-character
    paste is not sent back whole."""
    if not isinstance(question, str):
        return ""
    return question if len(question) <= USER_SHOWN_CHARS else question[:USER_SHOWN_CHARS] + "…"


class Shelf:
    """The engine as the page reads it: reports by id with their labels and texts, answers, figures."""

    def __init__(self, qa: ReportQA, top_k: int):
        self.qa, self.top_k = qa, top_k

    # -- the library ------------------------------------------------------------
    def reports(self):
        return self.qa.reports()

    def text_of(self, rid: str) -> str:
        return self.qa.text_of(rid)

    def title(self, rid: str) -> str:
        return next((r.title for r in self.reports() if r.id == rid), "")

    def label(self, rid: str) -> str:
        """"2025年吉林省政府工作报告 (jilin-2025)": how the page names a report."""
        title = self.title(rid)
        return f"{title} ({rid})" if title else rid

    def choices(self) -> list[tuple[str, str]]:
        return [(self.label(r.id), r.id) for r in self.reports()]

    def original_of(self, rid: str) -> Path | None:
        """The file the report was added from, when the library kept it."""
        return self.qa.original_of(rid)

    def add(self, path, user: str, progress: bool = True, replace: bool = False, keep_both: bool = False):
        """(the report, whether its text was in the library already) for a report file added by `user`;
        ReportQAError (from the readers or the library) says why not."""
        known = {r.sha256 for r in self.reports()}
        report = self.qa.add(path, progress=progress, user=user, replace=replace, keep_both=keep_both, apart=True)
        already = report.sha256 in known
        log.info("%s %s from %s (user %s)", "Already had" if already else "Added", report.id, Path(path).name, user)
        return report, already

    def remove(self, rid: str, user: str):
        gone = self.qa.remove(rid, user=user, apart=True)
        log.info("Removed %s (user %s)", rid, user)
        return gone

    def changes(self, n: int) -> list:
        """The library's last `n` changes, newest first."""
        return self.qa.log()[-n:][::-1]

    def figures(self, ids: list[str] | None) -> list:
        """The figures of the picked reports that are still in the library (another process may have
        removed one since the page was loaded), else of every report."""
        known = [r.id for r in self.reports()]
        return [f for rid in ([i for i in ids or [] if i in known] or known) for f in self.qa.figures(rid)]

    # -- asking -----------------------------------------------------------------
    def ask(self, question, k: int | None = None, report=None, history=None) -> Answer:
        return self.qa.ask(question, k=self.top_k if k is None else k, report=report_ids(report),
                           history=history or None)

    def compare(self, question, reports=None) -> list[tuple[str, Answer]]:
        """(report id, answer) for each picked report, or for every report."""
        ids = report_ids(reports) or [r.id for r in self.reports()]
        return list(zip(ids, self.qa.compare(question, reports=ids, k=self.top_k)))

    def ask_dict(self, question, k: int | None = None, report="", history=None) -> dict:
        """The answer as JSON-ready data; a question the engine refuses gives `error` instead of raising."""
        try:
            if history is not None and (not isinstance(history, list) or not all(isinstance(h, str) for h in history)):
                raise QuestionError("history is the earlier questions, a list of strings.", code="bad_history")
            return {**self.ask(question, k, report, history).to_dict(), "error": None}
        except ReportQAError as e:
            return self.refused(question, e)

    def refused(self, question, error: ReportQAError) -> dict:
        """An /ask answer for a question that was not asked (`error` says why)."""
        return {**Answer(echo(question), False, "", message=str(error)).to_dict(), "error": str(error)}

    def compare_dict(self, question, reports="") -> dict:
        try:
            rows = [{**ans.to_dict(), "report": rid, "title": self.label(rid)}
                    for rid, ans in self.compare(question, reports)]
            return {"question": question, "rows": rows, "error": None}
        except ReportQAError as e:
            return {"question": echo(question), "rows": [], "error": str(e)}

    # -- what the page says about the library ------------------------------------
    def examples(self) -> list[str]:
        """The engine's example questions: each one asked, and answered surely, before it is offered."""
        try:
            return self.qa.examples()
        except ReportQAError:            # an empty library: nothing to ask yet
            return []

    def placeholder(self) -> str:
        """The question box's hint: a question this library answers."""
        shown = self.examples()
        return f"例如 e.g. {shown[0]}" if shown else "上传一份报告后即可提问 Upload a report, then ask it"
