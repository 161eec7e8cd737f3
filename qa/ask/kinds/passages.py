"""Every other question: answered from the retrieved passages.  The extractor ranks their sentences
(and those the key-figures table proposes), cuts the best to its clause, the table row's clause for
a figure question, and verifies it states what was asked (extractor.py, table.py, verify.py)."""
from __future__ import annotations

from ...schema import Answer
from .base import Context, Kind


class Passages(Kind):
    name = "passages"

    def answer(self, ctx: Context) -> Answer:
        qvec, passages = ctx.searched()
        return ctx.extractor.answer(ctx.q, qvec, passages)
