"""Structured logs: each record's message is one JSON object (never prompt or answer text).

Records go to the `routerkit.server` logger, so any handler with the `%(message)s` format writes one
JSON object per line; `routerkit serve` installs such a handler on stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Mapping

__all__ = ["LOGGER_NAME", "configure_logging", "log_event"]

LOGGER_NAME = "routerkit.server"
_logger = logging.getLogger(LOGGER_NAME)


def log_event(event: str, fields: Mapping[str, object], *, level: int = logging.INFO) -> None:
    """Log one event as a JSON object: `{"ts", "event", **fields}` (values that are not JSON become strings)."""
    if _logger.isEnabledFor(level):
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        _logger.log(level, json.dumps(record, default=str, separators=(",", ":")))


def configure_logging(level: int | str = logging.INFO) -> None:
    """Send the server's JSON records to stderr, one per line (idempotent); `level` as in `logging`."""
    if any(getattr(h, "_routerkit", False) for h in _logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._routerkit = True  # type: ignore[attr-defined]  # marks our handler for idempotence
    _logger.addHandler(handler)
    _logger.setLevel(level)
    _logger.propagate = False
