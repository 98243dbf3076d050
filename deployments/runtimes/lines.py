"""Output streams cut into lines for the build and run logs, each line capped.

A task may print gigabytes without a newline: neither the worker's memory nor the log grows
with it. A line longer than MAX_LINE_BYTES keeps its first MAX_LINE_BYTES bytes, ends with
LINE_CUT_MARKER (so the log says it was cut), and the rest of it, up to the next newline, is
read and dropped. The cap stays under the log's own per-line cap (logs.MAX_LINE_CHARS), so
the marker is never cut off in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from deployments.runtimes.base import LogFn

MAX_LINE_BYTES = 8000
LINE_CUT_MARKER = f" …[line cut by Chorus: longer than {MAX_LINE_BYTES} bytes]"


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").rstrip("\r\n")


def _capped(line: str) -> str:
    data = line.encode("utf-8", errors="replace")
    if len(data) <= MAX_LINE_BYTES:
        return line
    return data[:MAX_LINE_BYTES].decode("utf-8", errors="replace") + LINE_CUT_MARKER


def capped_lines(pipe: BinaryIO) -> Iterator[str]:
    """The lines of a binary pipe, never holding more than MAX_LINE_BYTES of one in memory."""
    cutting = False  # inside the dropped rest of a line already cut
    while True:
        raw = pipe.readline(MAX_LINE_BYTES)
        if not raw:
            return
        whole = raw.endswith(b"\n")
        if cutting:
            cutting = not whole
        elif whole or len(raw) < MAX_LINE_BYTES:
            yield _text(raw)  # a line, or the last one without a newline
        else:
            yield _text(raw) + LINE_CUT_MARKER
            cutting = True


class LineBuffer:
    """Turns chunks of bytes or text into complete lines (the last partial line is kept, at
    most MAX_LINE_BYTES of it)."""

    def __init__(self, log: LogFn, stream: str) -> None:
        self.log, self.stream, self.rest = log, stream, ""
        self.cutting = False

    def feed(self, data: bytes | str) -> None:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        *lines, rest = text.split("\n")
        for line in lines:
            if self.cutting:
                self.cutting = False  # the end of a line already cut: dropped
            else:
                self.log(_capped((self.rest + line).rstrip("\r")), self.stream)
            self.rest = ""
        if self.cutting:
            return
        self.rest += rest
        if len(self.rest.encode("utf-8", errors="replace")) > MAX_LINE_BYTES:
            self.log(_capped(self.rest), self.stream)
            self.rest, self.cutting = "", True

    def close(self) -> None:
        if self.rest:
            self.log(self.rest.rstrip("\r"), self.stream)
        self.rest, self.cutting = "", False
