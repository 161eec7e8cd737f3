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
