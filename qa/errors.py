"""Errors a user can act on; the CLI and the web app show their message, never a traceback.

Every error carries a reason `code` (a short stable string) beside its one-line English message, so
a caller that speaks another language (the web page's Chinese) maps the code to its own text instead
of parsing the message.  Facts such a caller may repeat in its own words (a question's length, a
limit) go in `details`.
"""


class ReportQAError(Exception):
    """Base class: the message is meant for the user; `code` says why, for programs."""
    code = "error"

    def __init__(self, message: str = "", code: str | None = None, **details):
        super().__init__(message)
        if code:
            self.code = code
        self.details = details


class QuestionError(ReportQAError, ValueError):
    """The question cannot be asked as it is (empty, too long)."""
    code = "bad_question"


class ReportError(ReportQAError):
    """The report file is missing, unreadable, empty or not a report."""
    code = "bad_report"


class IndexStoreError(ReportQAError):
    """The persisted index cannot be read or written."""
    code = "store_error"


class ModelError(ReportQAError):
    """The embedding model cannot be found, converted or loaded."""
    code = "model_error"


class SameTitleError(ReportError):
    """A report with the same title and year, but another text, is already in the library."""
    code = "same_title_differs"


class LibraryBusyError(IndexStoreError):
    """Another writer has held the library's lock for longer than a writer waits."""
    code = "library_busy"


class StoreInUseError(IndexStoreError):
    """A Milvus Lite file is open in another process (Milvus Lite serves one process per file)."""
    code = "store_in_use"


class StoreDamagedError(IndexStoreError):
    """The store's files are damaged beyond what opening it repairs."""
    code = "store_damaged"


class UnsafeFileError(ReportError):
    """A file that would take more memory or time to read than any report does (a compression bomb,
    thousands of pages, far more text than a report has)."""
    code = "file_too_large"


class AccessError(ReportQAError):
    """The user may not do this (a reader changing the library, a server that is read-only), not now
    (too many requests: code "rate_limited", details `wait` in seconds), or the users file is wrong."""
    code = "not_allowed"
