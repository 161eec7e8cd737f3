"""report-qa: cited extractive answers from government work reports.

parse (document) → chunk (chunks) → embed (embedder) → index (index)
→ retrieve (retriever) → answer (question, extractor), behind the ReportQA facade (engine).
"""
from .engine import ReportQA
from .errors import ReportQAError
from .schema import Answer, Chunk, Citation, Passage

__all__ = ["ReportQA", "Answer", "Chunk", "Citation", "Passage", "ReportQAError"]
__version__ = "0.1.0"
