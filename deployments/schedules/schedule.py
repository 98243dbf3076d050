"""The parsed schedule and its tick computation (croniter in a timezone, `@every` in UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from cron_descriptor import ExpressionDescriptor, Options
from croniter import croniter

from deployments.schedules.durations import compact_duration, format_duration
from deployments.schedules.timezones import get_zone


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule. `expr` is what the user wrote (stripped); `cron` the 5-field form."""

    expr: str
    kind: str  # "cron" or "interval"
    cron: str = ""
    interval_seconds: int = 0

    @property
    def is_interval(self) -> bool:
        return self.kind == "interval"

    @property
    def canonical(self) -> str:
        """A normalised spelling (`@every 1h30m`, `0 2 * * *`), e.g. for CHORUS_PERIODICITY."""
        if self.is_interval:
            return f"@every {compact_duration(self.interval_seconds)}"
        return self.cron

    def describe(self) -> str:
        if self.is_interval:
            return f"Every {format_duration(self.interval_seconds)}"
        opts = Options()
        opts.use_24hour_time_format = True
        opts.verbose = False
        return ExpressionDescriptor(self.cron, opts).get_description()

    # -- ticks ---------------------------------------------------------------------------------
    def next_after(self, t: datetime, tz: str | tzinfo = "UTC") -> datetime:
        """The first tick strictly after `t` (aware), as an aware UTC datetime."""
        require_aware(t)
        if self.is_interval:
            p = self.interval_seconds
            ts = int(t.timestamp() // p) * p + p
            return datetime.fromtimestamp(ts, UTC)
        it = croniter(self.cron, t.astimezone(get_zone(tz)))
        return it.get_next(datetime).astimezone(UTC)

    def latest_at_or_before(self, t: datetime, tz: str | tzinfo = "UTC") -> datetime:
        """The last tick at or before `t`: the tick a beat message arriving at `t` belongs to."""
        require_aware(t)
        if self.is_interval:
            p = self.interval_seconds
            return datetime.fromtimestamp(int(t.timestamp() // p) * p, UTC)
        # croniter's get_prev is strict; start a microsecond later so a tick at `t` counts.
        it = croniter(self.cron, t.astimezone(get_zone(tz)) + timedelta(microseconds=1))
        return it.get_prev(datetime).astimezone(UTC)

    def ticks_between(
        self, start: datetime, end: datetime, tz: str | tzinfo = "UTC", *, limit: int | None = None
    ) -> list[datetime]:
        """Every tick in (start, end] as aware UTC datetimes, oldest first (at most `limit`)."""
        require_aware(start)
        require_aware(end)
        out: list[datetime] = []
        if end <= start:
            return out
        if self.is_interval:
            p = self.interval_seconds
            first = int(start.timestamp() // p) * p + p
            last = int(end.timestamp() // p) * p
            for ts in range(first, last + 1, p):
                out.append(datetime.fromtimestamp(ts, UTC))
                if limit is not None and len(out) >= limit:
                    break
            return out
        it = croniter(self.cron, start.astimezone(get_zone(tz)))
        while limit is None or len(out) < limit:
            t = it.get_next(datetime).astimezone(UTC)
            if t > end:
                break
            out.append(t)
        return out

    def is_due(self, *, last: datetime, now: datetime, tz: str | tzinfo = "UTC") -> bool:
        """True when a tick falls in (last, now]."""
        return self.next_after(last, tz) <= now


def require_aware(t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("schedules work on timezone-aware datetimes")
