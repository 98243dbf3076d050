"""Fixed-bucket histograms: small enough to store per hour, mergeable, good for p50/p95.

A histogram is a list of counts, one per bucket: bucket i holds values <= BOUNDS[i] (and >
BOUNDS[i-1]); the last bucket holds everything above the last bound. Summing two histograms
element-wise merges them, so hours add up to days and days to months. Percentiles are
interpolated inside their bucket, which is accurate to the bucket width - plenty to tell
"2 s" from "40 s", and what Prometheus itself does with `histogram_quantile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Seconds. Runs are scheduled tasks: from sub-second scripts to hour-long jobs.
DURATION_BOUNDS: tuple[float, ...] = (
    0.1,
    0.25,
    0.5,
    1,
    2,
    5,
    10,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
)
# Seconds between the tick and the start of the run: healthy is well under a second.
LAG_BOUNDS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


def empty(bounds: Sequence[float]) -> list[int]:
    return [0] * (len(bounds) + 1)


def bucket_index(value: float, bounds: Sequence[float]) -> int:
    for i, b in enumerate(bounds):
        if value <= b:
            return i
    return len(bounds)


def normalize(hist: Sequence[int] | None, bounds: Sequence[float]) -> list[int]:
    """A stored histogram, padded/truncated to the current bounds (robust to old rows)."""
    out = empty(bounds)
    for i, v in enumerate(hist or []):
        out[min(i, len(out) - 1)] += int(v or 0)
    return out


def merge(hists: Iterable[Sequence[int] | None], bounds: Sequence[float]) -> list[int]:
    out = empty(bounds)
    for h in hists:
        for i, v in enumerate(normalize(h, bounds)):
            out[i] += v
    return out


def quantile(hist: Sequence[int], bounds: Sequence[float], q: float, vmax: float | None = None):
    """The q-quantile (0..1) by linear interpolation inside its bucket; None when empty.

    `vmax` (the largest value seen) caps the answer: it bounds the open top bucket and keeps
    p95 of ten 1.2 s runs from reading "2 s".
    """
    total = sum(hist)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(hist):
        if count == 0:
            continue
        if seen + count >= rank:
            lo = bounds[i - 1] if i > 0 else 0.0
            hi = bounds[i] if i < len(bounds) else (vmax if vmax is not None else bounds[-1] * 2)
            if vmax is not None:
                hi = min(hi, vmax) if vmax >= lo else hi
            frac = (rank - seen) / count
            value = lo + (hi - lo) * frac
            return round(min(value, vmax) if vmax is not None else value, 3)
        seen += count
    return vmax


def cumulative(hist: Sequence[int], bounds: Sequence[float]) -> list[tuple[str, int]]:
    """Prometheus `le` buckets: cumulative counts, ending with +Inf."""
    out: list[tuple[str, int]] = []
    running = 0
    for i, count in enumerate(hist):
        running += count
        le = "+Inf" if i == len(bounds) else _fmt(bounds[i])
        out.append((le, running))
    return out


def _fmt(b: float) -> str:
    return str(float(b))
