"""Logs are data: stored line by line, capped in total size, with secrets masked.

`LogWriter` is shared by builds and executions. Lines are buffered and written in batches
(bulk_create) so a chatty task costs few queries; `flush()` makes them visible to the live view.
When the cap is reached one marker line says so and further lines are counted, not stored.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.db import models
from django.utils import timezone

MASK = "••••"
TRUNCATED_MARKER = "[chorus] log truncated: the log reached its size limit of {limit} bytes; {dropped} more line(s) were not stored"
MAX_LINE_CHARS = 8192


# A line of a multi-line secret shorter than this (a PEM's "}" or a JSON's "{") says nothing.
MIN_SECRET_PIECE = 4


def _shell_double_quoted(value: str) -> str:
    """The value as bash writes it inside "…" (`declare -p`, `export -p`)."""
    for ch in ("\\", '"', "$", "`"):
        value = value.replace(ch, "\\" + ch)
    return value


def _shell_backslashed(value: str) -> str:
    """The value as `printf %q` writes it when it needs no $'…' (a backslash before specials)."""
    return re.sub(r"([^A-Za-z0-9_./:=@%+,-])", r"\\\1", value)


def secret_forms(secret: str) -> tuple[set[str], set[str]]:
    """(whole forms, line pieces) of `secret`.

    The whole forms are every text a task is likely to print for it: as is, JSON-escaped
    (json.dumps of the environment), Python repr (print(os.environ)), shell-quoted (shlex.quote,
    declare -p, printf %q). The pieces are the lines of a multi-line secret (a PEM key, pretty
    JSON) in any of those forms, because runtimes hand the log one line at a time.
    """
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        shlex.quote(secret),
        _shell_double_quoted(secret),
        _shell_backslashed(secret),
    }
    pieces = {
        piece
        for form in forms
        for piece in (p.strip() for p in form.splitlines())
        if len(piece) >= MIN_SECRET_PIECE and piece not in forms
    }
    return {f for f in forms if len(f) >= 3}, pieces


def _alternation(texts: set[str]) -> re.Pattern | None:
    # Longest first: where several start at one position the longest is masked whole.
    ordered = sorted(texts, key=lambda t: (-len(t), t))
    return re.compile("|".join(re.escape(t) for t in ordered)) if ordered else None


@lru_cache(maxsize=256)
def _mask_patterns(secrets: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    wholes: set[str] = set()
    pieces: set[str] = set()
    for secret in secrets:
        w, p = secret_forms(secret)
        wholes |= w
        pieces |= p
    # Whole forms first: a regex takes the leftmost match, and a piece starting one character
    # earlier (the quote of a shell-quoted form) would otherwise cut a whole form into bits.
    return tuple(p for p in (_alternation(wholes), _alternation(pieces)) if p is not None)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    for pattern in _mask_patterns(tuple(sorted({s for s in secrets if s and len(s) >= 3}))):
        text = pattern.sub(MASK, text)
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
        # Masked before splitting too, so a multi-line secret given whole goes whole.
        text = mask_secrets(str(text), self.secrets)
        for raw in text.splitlines() or [""]:
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
            # Taken off the buffer only once written: a write the database refused (it was
            # restarting) is tried again with the next flush, and no line is lost.
            pending = list(self._pending)
            self.line_model.objects.bulk_create(
                [
                    self.line_model(
                        **{self.fk_name: self.owner},
                        seq=seq,
                        ts=ts,
                        stream=stream,
                        **{"text": text, **self.line_fields(stream, text)},
                    )
                    for seq, ts, stream, text in pending
                ]
            )
            del self._pending[: len(pending)]
        if update_owner:
            type(self.owner).objects.filter(pk=self.owner.pk).update(
                log_bytes=self.bytes, log_truncated=self.truncated
            )
        self._last_flush = time.monotonic()

    def checkpoint(self) -> tuple:
        """Where the log stands, for `rollback` when a transaction that writes lines fails."""
        return (self.seq, list(self._pending), self.bytes, self.truncated, self.dropped)

    def rollback(self, point: tuple) -> None:
        """Back to `point`: lines written since are forgotten, lines pending then (flushed in
        the transaction that was rolled back) are pending again."""
        self.seq, pending, self.bytes, self.truncated, self.dropped = point
        self._pending = list(pending)

    def line_fields(self, stream: str, text: str) -> dict:
        """More fields of a stored line, for a line model that has them (executions: its level,
        and the text it stores), from the masked text."""
        return {}

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
        text = mask_secrets(text, self.secrets)[:MAX_LINE_CHARS]
        self.line_model.objects.create(
            **{self.fk_name: self.owner},
            seq=self.seq,
            ts=timezone.now(),
            stream="chorus",
            **{"text": text, **self.line_fields("chorus", text)},
        )
