"""Catalog: the reports of a library, whatever store keeps them, how one is looked up, and the
record of changes made to them."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..errors import ReportError
from ..ingest.pipeline import Entry
from ..schema import Report


class Catalog:
    """The entries of a library, in the order their chunks are numbered."""
    entries: list[Entry]

    @property
    def reports(self) -> list[Report]:
        return [e.report for e in self.entries]

    def entry(self, rid: str) -> Entry:
        for e in self.entries:
            if e.report.id == rid:
                return e
        known = ", ".join(e.report.id for e in self.entries) or "none"
        raise ReportError(f"No report {rid!r} in the library (reports: {known}).", code="unknown_report")

    def text_of(self, rid: str) -> str:
        """The report's cleaned text, that citations' offsets point into."""
        return self.entry(rid).doc.text

    def with_text(self, sha256: str) -> Entry | None:
        """The entry whose text has this checksum: the same report added again."""
        return next((e for e in self.entries if e.report.sha256 == sha256), None)

    @property
    def ids(self) -> set[str]:
        return {e.report.id for e in self.entries}


@dataclass(frozen=True)
class Change:
    """One line of a library's change log: who added or removed which report, when."""
    at: str             # UTC, "2026-12-02T17:20:13Z"
    user: str           # the user the page passed, or "cli"
    action: str         # "add" or "remove"
    report: str         # the report's id
    file: str           # the file it was added from
    sha256: str         # of the report's text

    @classmethod
    def of(cls, action: str, entry: Entry, user: str) -> "Change":
        return cls(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), user, action, entry.report.id,
                   entry.report.source, entry.report.sha256)

    def to_dict(self) -> dict:
        return asdict(self)
