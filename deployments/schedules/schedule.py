"""The parsed schedule and its ticks (cron in a timezone by wallclock.py, `@every` in UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from cron_descriptor import ExpressionDescriptor, Options
from django.core.exceptions import ValidationError

from deployments.schedules import wallclock
from deployments.schedules.durations import compact_duration, format_duration
from deployments.schedules.timezones import get_zone


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule. `expr` is what the user wrote (stripped); `cron` the 5-field form."""

    expr: str
    kind: str  # "cron", "interval" or "once"
    cron: str = ""
    interval_seconds: int = 0
    at: datetime | None = None  # "once": the wall-clock time, naive, in the deployment's zone
    dst: str = "cron"  # cron's DST rule by the hour field, or "every" / "once" (the deployment's)

    @property
    def every_occurrence(self) -> bool:
        """Whether a repeated wall-clock time runs twice (and a skipped one not at all)."""
        if self.dst in ("every", "once"):
            return self.dst == "every"
        return wallclock.every_occurrence(self.cron)

    @property
    def is_interval(self) -> bool:
        return self.kind == "interval"

    @property
    def is_once(self) -> bool:
        return self.kind == "once"

    def instant(self, tz: str | tzinfo = "UTC") -> datetime:
        """A one-off schedule's time as an aware UTC datetime; ValidationError when that
        wall-clock time is ambiguous or does not exist in `tz`."""
        assert self.at is not None
        zone = get_zone(tz)
        found = wallclock.instants(self.at, zone, every=True)
        when = f"{self.at:%Y-%m-%d %H:%M}"
        if not found:
            raise ValidationError(
                f"{when} does not exist in {zone} (the clocks jump forward over it); "
                "choose a time outside the change.",
                code="schedule",
            )
        if len(found) > 1:
            raise ValidationError(
                f"{when} happens twice in {zone} (the clocks go back); choose a time outside "
                "the change, or a timezone without it (UTC).",
                code="schedule",
            )
        return found[0]

    @property
    def canonical(self) -> str:
        """A normalised spelling (`@every 1h30m`, `0 2 * * *`), e.g. for CHORUS_PERIODICITY."""
        if self.is_interval:
            return f"@every {compact_duration(self.interval_seconds)}"
        if self.is_once:
            return f"@at {self.at:%Y-%m-%dT%H:%M}"
        return self.cron

    def describe(self) -> str:
        if self.is_interval:
            return f"Every {format_duration(self.interval_seconds)}"
        if self.is_once:
            return f"Once, at {self.at:%H:%M} on {self.at:%a %d %b %Y}"
        opts = Options()
        opts.use_24hour_time_format = True
        opts.verbose = False
        return ExpressionDescriptor(self.cron, opts).get_description()

    # -- ticks ---------------------------------------------------------------------------------
    def iter_after(self, t: datetime, tz: str | tzinfo = "UTC") -> Iterator[datetime]:
        """Every tick strictly after `t` (aware), oldest first, as aware UTC datetimes."""
        require_aware(t)
        if self.is_interval:
            p = self.interval_seconds
            ts = int(t.timestamp() // p) * p
            while True:
                ts += p
                yield datetime.fromtimestamp(ts, UTC)
        elif self.is_once:
            if (at := self.instant(tz)) > t:
                yield at
        else:
            yield from wallclock.iter_after(self.cron, get_zone(tz), t, self.every_occurrence)

    def next_after(self, t: datetime, tz: str | tzinfo = "UTC") -> datetime | None:
        """The first tick strictly after `t` (aware), as an aware UTC datetime; None when
        there is none (a one-off schedule whose time has passed)."""
        return next(self.iter_after(t, tz), None)

    def latest_at_or_before(self, t: datetime, tz: str | tzinfo = "UTC") -> datetime:
        """The last tick at or before `t`: the tick a beat message arriving at `t` belongs to."""
        require_aware(t)
        if self.is_interval:
            p = self.interval_seconds
            return datetime.fromtimestamp(int(t.timestamp() // p) * p, UTC)
        if self.is_once:
            return self.instant(tz)  # its only tick, even before it is due
        return wallclock.latest_at_or_before(self.cron, get_zone(tz), t, self.every_occurrence)

    def ticks_between(
        self, start: datetime, end: datetime, tz: str | tzinfo = "UTC", *, limit: int | None = None
    ) -> list[datetime]:
        """Every tick in (start, end] as aware UTC datetimes, oldest first (at most `limit`)."""
        require_aware(start)
        require_aware(end)
        out: list[datetime] = []
        if end <= start:
            return out
        for t in self.iter_after(start, tz):
            if t > end:
                break
            out.append(t)
            if limit is not None and len(out) >= limit:
                break
        return out

    def is_due(self, *, last: datetime, now: datetime, tz: str | tzinfo = "UTC") -> bool:
        """True when a tick falls in (last, now]."""
        following = self.next_after(last, tz)
        return following is not None and following <= now


def require_aware(t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("schedules work on timezone-aware datetimes")
