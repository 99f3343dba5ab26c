"""``JsonBuffer``: 0.1.11's helper turning received bytes into JSON objects.

``push(bytes)`` adds data and parses every complete object (objects may be
concatenated or split anywhere, as on event_stream); ``pop()`` returns the
oldest one, or None. After more than ``max_retries`` pushes in a row that
completed nothing, ``push`` raises ``JsonBufferMaxAttempts`` (the caller then
reports unreadable data, 0.1.11's callback ``None``).
"""

from __future__ import annotations

import json
from typing import Any

_decoder = json.JSONDecoder()


class JsonBufferMaxAttempts(Exception):
    """Too many reads in a row without a complete JSON object."""


class JsonBuffer:
    """Accumulates bytes, hands out the JSON objects they hold."""

    def __init__(self, max_retries: int = 10) -> None:
        self.queue: list[Any] = []
        self.retries = 0
        self.max_retries = max_retries
        self.buf = ""

    def push(self, data: bytes) -> None:
        self.buf += data.decode("utf-8", errors="replace")
        before = len(self.queue)
        self.parse()
        if len(self.queue) == before:
            self.retries += 1
            if self.retries > self.max_retries:
                raise JsonBufferMaxAttempts(f"{self.retries} reads without a complete JSON object")

    def pop(self) -> Any:
        if not self.queue:
            return None
        self.retries = 0
        return self.queue.pop(0)

    def parse(self) -> None:
        """Move every complete object at the front of ``buf`` to ``queue``."""
        while True:
            text = self.buf.lstrip()
            if not text:
                self.buf = ""
                return
            try:
                obj, end = _decoder.raw_decode(text)
            except ValueError:
                self.buf = text
                return
            self.queue.append(obj)
            self.buf = text[end:]
