"""report-qa: cited extractive answers from government work reports.

parse (document) → chunk (chunks) → embed (embedder) → index (index)
→ retrieve (retriever) → answer (question, extractor), behind the ReportQA facade (engine).

The facade and its types load on first use (`from qa import ReportQA`), so that a part run on its
own, such as the model build's child process (`python -m qa.model.build`), does not import the
whole pipeline first.
"""
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

__all__ = ["ReportQA", "Answer", "Chunk", "Citation", "Passage", "ReportQAError"]
_HOMES = {"ReportQA": ".engine", "ReportQAError": ".errors", "Answer": ".schema", "Chunk": ".schema",
          "Citation": ".schema", "Passage": ".schema"}

try:
    __version__ = version("report-qa")         # pyproject.toml's, as installed
except PackageNotFoundError:                   # a checkout run without installing it
    __version__ = "unknown"


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
