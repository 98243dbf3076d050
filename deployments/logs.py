"""Logs are data: stored line by line, capped in total size, with secrets masked.

`LogWriter` is shared by builds and executions. Lines are buffered and written in batches
(bulk_create) so a chatty task costs few queries; `flush()` makes them visible to the live view.
When the cap is reached one marker line says so and further lines are counted, not stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone

MASK = "••••"
TRUNCATED_MARKER = "[chorus] log truncated: the log reached its size limit of {limit} bytes; {dropped} more line(s) were not stored"
MAX_LINE_CHARS = 8192


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    # Longest first, so a secret containing another is masked whole.
    for secret in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class LogWriter:
    """Append log lines to `owner` (a Build or an Execution) through `line_model`.

    owner must have `log_bytes` and `log_truncated` fields; line_model a FK named `fk_name`.
    """

    def __init__(
        self,
        *,
        owner: models.Model,
        line_model: type[models.Model],
        fk_name: str,
        secrets: Iterable[str] = (),
        max_bytes: int | None = None,
        flush_every: float = 0.5,
        echo=None,
        seq: int | None = None,
    ) -> None:
        self.owner = owner
        self.line_model = line_model
        self.fk_name = fk_name
        self.secrets = [s for s in secrets if s]
        self.max_bytes = settings.CHORUS_LOG_MAX_BYTES if max_bytes is None else max_bytes
        self.flush_every = flush_every
        self.echo = echo
        if seq is None:
            last = line_model.objects.filter(**{fk_name: owner}).order_by("-seq").first()
            seq = last.seq if last else 0
        # `seq` given: the caller knows the last stored line (0 for a new owner), one query less.
        self.seq = seq
        self.bytes = owner.log_bytes or 0
        self.truncated = bool(owner.log_truncated)
        self.dropped = 0
        self._pending: list[tuple] = []  # (seq, ts, stream, text)
        self._last_flush = time.monotonic()
        # True: lines only buffer, never flush (a batch leader starting thousands of runs
        # must not stop for a database write per run); the run's own thread flushes later.
        self.hold = False

    def __call__(self, text: str, stream: str = "stdout") -> None:
        self.write(text, stream)

    def write(self, text: str, stream: str = "stdout") -> None:
        for raw in str(text).splitlines() or [""]:
            self._write_line(raw.rstrip("\r"), stream)
        if not self.hold and time.monotonic() - self._last_flush >= self.flush_every:
            self.flush()

    def _write_line(self, line: str, stream: str) -> None:
        line = mask_secrets(line, self.secrets)
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …[line cut]"
        if self.echo:
            self.echo(line)
        if self.truncated:
            self.dropped += 1
            return
        size = len(line.encode()) + 1
        if self.bytes + size > self.max_bytes:
            self.truncated = True
            self.dropped += 1
            return
        self.bytes += size
        self.seq += 1
        # A plain tuple now, the model instance at flush: writing a line stays cheap for a
        # batch leader that starts thousands of runs (batch.py).
        self._pending.append((self.seq, timezone.now(), stream, line))

    def flush(self, *, update_owner: bool = True) -> None:
        """Store pending lines; update_owner=False leaves log_bytes/log_truncated to the
        caller (who writes them with its own update of the owner row)."""
        if self._pending:
            pending, self._pending = self._pending, []
            self.line_model.objects.bulk_create(
                [
                    self.line_model(
                        **{self.fk_name: self.owner}, seq=seq, ts=ts, stream=stream, text=text
                    )
                    for seq, ts, stream, text in pending
                ]
            )
        if update_owner:
            type(self.owner).objects.filter(pk=self.owner.pk).update(
                log_bytes=self.bytes, log_truncated=self.truncated
            )
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush, and when lines were dropped store the truncation marker as the last line."""
        if self.truncated and self.dropped:
            self.seq += 1
            self._pending.append(
                (
                    self.seq,
                    timezone.now(),
                    "chorus",
                    TRUNCATED_MARKER.format(limit=self.max_bytes, dropped=self.dropped),
                )
            )
            self.dropped = 0
        self.flush()

    def final(self, text: str) -> None:
        """A last line that is stored even past the cap (the reason a run ended)."""
        self.close()
        self.seq += 1
        self.line_model.objects.create(
            **{self.fk_name: self.owner},
            seq=self.seq,
            ts=timezone.now(),
            stream="chorus",
            text=mask_secrets(text, self.secrets)[:MAX_LINE_CHARS],
        )
