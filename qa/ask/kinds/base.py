"""What every answer kind gets and gives: the parsed question, the scope and the retrieved passages
(searched only when a kind asks for them) in; an Answer, or None for "not my kind", out."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ...ingest.document import Document
from ...schema import Passage
from ..extractor import Extractor
from ..question import Question
from ..scope import Scope


@dataclass
class Context:
    q: Question
    scope: Scope
    docs: dict[str, Document]
    extractor: Extractor
    search: Callable[[], tuple[np.ndarray, list[Passage]]]     # the question's vector and top passages
    _searched: tuple | None = field(default=None, repr=False)

    @property
    def only(self) -> str | None:
        """The one report asked, if one."""
        return self.scope.reports[0] if len(self.scope.reports) == 1 else None

    def searched(self) -> tuple[np.ndarray, list[Passage]]:
        if self._searched is None:
            self._searched = self.search()
        return self._searched


class Kind:
    """An answer kind: answers the questions of its kind, and returns None for the others."""
    name = "kind"

    def answer(self, ctx: Context):
        raise NotImplementedError
