"""A controlled, fast clock for real Celery processes (tests only): start one as

    python -m tests.support.fakeclock celery -A portal beat ...

with CHORUS_TEST_CLOCK="<start ISO time>|<go file>|<rate>". Until the go file holds a real
Unix time (the test writes it once every process is ready, however long they took to start),
the process's wall clock stands a minute before the start, moving at real speed; from that
real time on it reads start + (real now - go) x rate, the same in every process. That is what
time.time, datetime.now and Django's timezone.now return: everything Chorus reads. time.sleep
sleeps rate times shorter; monotonic clocks and timed waits stay real.

time-machine patches the clock functions in C; its traveller is given the rate. (libfaketime,
the usual tool, hangs Python's timed lock waits and fails its sleep with EINVAL.)
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

ENV = "CHORUS_TEST_CLOCK"
BEFORE_GO_NS = 60 * 10**9
CHECK_EVERY_NS = 50 * 10**6


def clock_value(start: datetime, go_file: Path, rate: float) -> str:
    return f"{start.isoformat()}|{go_file}|{rate!r}"


def go(value: str) -> float:
    """Start the fast clock of every process given `value`, now; returns the real time."""
    real = time.time()
    Path(value.split("|")[1]).write_text(repr(real))
    return real


def fake_now(value: str, real_now: float | None = None) -> float:
    """The fake Unix time for `value` at the real time `real_now` (default: now), after go()."""
    start, go_file, rate = value.split("|")
    real_now = time.time() if real_now is None else real_now
    began = float(Path(go_file).read_text())
    return datetime.fromisoformat(start).timestamp() + (real_now - began) * float(rate)


def install(value: str) -> None:
    import _time_machine
    import time_machine

    start, go_file, rate = value.split("|")
    start_ns = int(datetime.fromisoformat(start).timestamp() * 1e9)
    speed = float(rate)
    spawned_ns = time.time_ns()  # before the patch: real
    state = {"go_ns": None, "next_check": 0}

    def go_ns(real_ns: int):
        if state["go_ns"] is None and real_ns >= state["next_check"]:
            state["next_check"] = real_ns + CHECK_EVERY_NS
            try:
                state["go_ns"] = int(float(Path(go_file).read_text()) * 1e9)
            except (OSError, ValueError):
                pass
        return state["go_ns"]

    class Fast(time_machine.Traveller):
        def time_ns(self) -> int:
            real_ns = _time_machine.original_time_ns()
            began = go_ns(real_ns)
            if began is None:
                return start_ns - BEFORE_GO_NS + (real_ns - spawned_ns)
            return start_ns + int((real_ns - began) * speed)

    time_machine.travel(datetime.fromisoformat(start), tick=True).start()
    time_machine.traveller_stack[-1] = Fast(start_ns, None, True)
    real_sleep = time.sleep
    time.sleep = lambda seconds: real_sleep(max(0.0, seconds) / speed)


def main() -> None:
    install(os.environ[ENV])
    sys.argv = sys.argv[1:]
    if sys.argv[0] != "celery":
        raise SystemExit("usage: python -m tests.support.fakeclock celery ...")
    from celery.__main__ import main as celery_main

    celery_main()


if __name__ == "__main__":
    main()
