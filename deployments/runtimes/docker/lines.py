"""Output streams cut into lines for the build and run logs."""

from __future__ import annotations

from deployments.runtimes.base import LogFn


class LineBuffer:
    """Turns chunks of bytes or text into complete lines (the last partial line is kept)."""

    def __init__(self, log: LogFn, stream: str) -> None:
        self.log, self.stream, self.rest = log, stream, ""

    def feed(self, data: bytes | str) -> None:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        text = self.rest + text
        *lines, self.rest = text.split("\n")
        for line in lines:
            self.log(line.rstrip("\r"), self.stream)

    def close(self) -> None:
        if self.rest:
            self.log(self.rest.rstrip("\r"), self.stream)
            self.rest = ""
