"""The server's log: plain lines for a terminal, or one JSON object a line for a collector.

``--log-format json`` (``SOCKSCOPE_LOG_FORMAT=json``) writes ``{"t", "level", "logger",
"message"}`` plus ``"lab"`` when a line is about one lab (the first 8 characters of its id, as
the text lines show it) and ``"exc"`` with a traceback. Either way the access log never shows
a token: ``?token=`` (the instructor's URL) and ``?observe=`` (an observer's link) keep their
name and lose their value.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

FORMATS = ("text", "json")
TEXT = "%(levelname)s %(name)s: %(message)s"
_SECRET = re.compile(r"([?&](?:token|observe)=)[^&\s\"]+")


def redact(text: str) -> str:
    """``text`` with the values of ``token=`` and ``observe=`` query parameters cut out."""
    return _SECRET.sub(r"\1…", text)


def lab(lab_id: str) -> dict[str, Any]:
    """``extra=`` for a log call about one lab."""
    return {"lab": lab_id[:8]}


class RedactTokens(logging.Filter):
    """On uvicorn's loggers: their arguments carry the path with its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {
            "t": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if hasattr(record, "lab"):
            line["lab"] = record.lab
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(fmt: str) -> None:
    """The root logger for the server (uvicorn's loggers pass through it in JSON mode)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
