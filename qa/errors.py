"""Errors a user can act on; the CLI and the web app show their message, never a traceback."""


class ReportQAError(Exception):
    """Base class: the message is meant for the user."""


class QuestionError(ReportQAError, ValueError):
    """The question cannot be asked as it is (empty, too long)."""


class ReportError(ReportQAError):
    """The report file is missing, unreadable, empty or not a report."""


class IndexStoreError(ReportQAError):
    """The persisted index cannot be read or written."""


class ModelError(ReportQAError):
    """The embedding model cannot be found, converted or loaded."""
