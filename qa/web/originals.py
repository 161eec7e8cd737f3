"""STAND-IN, to be deleted at merge: the original files of uploaded reports.

The "store" work keeps every report's original file in the library itself (checksummed like the
rest) and adds `ReportQA.original_of(report_id) -> Path | None`.  Until that is in main, the page
keeps a copy of each file uploaded through it beside the library, so that a PDF's citation can be
shown on its page.  Shelf uses `ReportQA.original_of` as soon as it exists and this module then
goes unused: delete it and the two calls marked STAND-IN in shelf.py.
"""
from __future__ import annotations

import shutil
from pathlib import Path

FOLDER = "originals-standin"


def _folder(qa) -> Path | None:
    root = getattr(qa.library, "root", None)          # a Milvus library has no folder: nothing kept
    return Path(root) / FOLDER if root else None


def keep(qa, rid: str, path: Path) -> None:
    folder = _folder(qa)
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{rid}.*"):
        old.unlink()
    shutil.copyfile(path, folder / f"{rid}{path.suffix.lower()}")


def find(qa, rid: str) -> Path | None:
    folder = _folder(qa)
    if folder is None or rid not in {r.id for r in qa.reports()}:
        return None
    return next(iter(sorted(folder.glob(f"{rid}.*"))), None)
