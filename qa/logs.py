"""Logging set-up for the programs (the CLI, the web app, the model build's child process): the
library's notices as plain lines on stderr.  Library code only logs; it never configures."""
from __future__ import annotations

import logging
import sys


def configure_logging(level: int = logging.INFO) -> None:
    """The library's notices (first-use builds, repairs, fallbacks) as plain lines on stderr, so
    stdout carries only the command's result."""
    logger = logging.getLogger("qa")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
