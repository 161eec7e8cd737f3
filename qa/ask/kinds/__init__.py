"""Answer kinds, one unit each, behind one dispatch: the first kind that takes the question answers it.

    cover       who delivered the report, when, where, which newspaper (kinds/cover.py)
    structure   what part two or section （五） is about (kinds/structure.py)
    passages    everything else, from the retrieved passages: a figure from the key-figures table's
                clause, a fact or a plan from its sentence (kinds/passages.py)

Each takes a Context (the parsed question, the scope, the passages when it asks for them) and gives an
Answer, or None when the question is not of its kind.  A new kind is a class here and a line in KINDS.
"""
from __future__ import annotations

from ...schema import Answer
from .base import Context, Kind
from .cover import Cover
from .passages import Passages
from .structure import Structure

KINDS: tuple[Kind, ...] = (Cover(), Structure(), Passages())


def dispatch(ctx: Context) -> Answer:
    for kind in KINDS:
        answer = kind.answer(ctx)
        if answer is not None:
            return answer
    raise AssertionError("the passages kind answers every question")


__all__ = ["Context", "Kind", "KINDS", "dispatch"]
