"""Holding a started task until its tick: the wrapper and its "began" line.

A Docker engine starts a few containers a second, so a hundred runs due at one instant cannot
all be started *at* the instant. Instead the worker starts them ahead of the tick
(deployments/executions/hold.py decides how far ahead) and each task is held by a wrapper
until `CHORUS_HOLD_UNTIL` (a Unix time with its fraction):

- Docker: a static busybox (Debian's busybox-static, `CHORUS_HOLD_BINARY`) is bind-mounted
  read-only at /.chorus/busybox and made the container's entrypoint; it runs `HOLD_SCRIPT`,
  which sleeps until the tick (the clock read through `adjtimex`, microseconds, since busybox's
  `date` has no %N; integer arithmetic in the shell), then `exec`s the image's own entrypoint
  and command. Static, so it runs
  in any image, even one FROM scratch.
- local: the task's own Python, with `HOLD_PY`, does the same before `execv`.

Just before the `exec` the wrapper reads the clock once more, exports it as
`CHORUS_STARTED_AT` and writes it on stderr as one line `BEGAN_PREFIX <unix time>`: the moment
the task really began. `began_filter` takes that first line out of the task's log and hands
the time to the run (`on_begin`), which records it as the execution's start.
"""

from __future__ import annotations

from collections.abc import Callable

from deployments.runtimes.base import LogFn

HOLD_MOUNT = "/.chorus"
HOLD_BUSYBOX = f"{HOLD_MOUNT}/busybox"
BEGAN_PREFIX = "\x1e[chorus-began]"

# $0 is "chorus-hold"; "$@" is the task's own argv. `now` reads the clock with one child
# process (adjtimex) and shell builtins; after the sleep nothing else runs before the `exec`,
# so a hundred containers waking at once do not queue on the CPU behind each other's helpers.
HOLD_SCRIPT = """\
b=@BUSYBOX@
now() {
  set -- $($b adjtimex)
  s= u= st=0
  while [ $# -gt 0 ]; do
    case $1 in
      status:) st=$2 ;;
      time.tv_sec:) s=$2 ;;
      time.tv_usec:) u=$2 ;;
    esac
    shift
  done
  [ $((st & 8192)) -eq 0 ] || u=$((u / 1000))
  u=000000$u
  NOW=$s.${u#${u%??????}}
}
now
h=${CHORUS_HOLD_UNTIL%.*}${CHORUS_HOLD_UNTIL#*.}
d=$((h - ${NOW%.*}${NOW#*.}))
if [ $d -gt 0 ]; then
  f=000000$((d % 1000000))
  $b sleep $((d / 1000000)).${f#${f%??????}}
fi
now
CHORUS_STARTED_AT=$NOW
export CHORUS_STARTED_AT
unset CHORUS_HOLD_UNTIL
echo "@PREFIX@ $CHORUS_STARTED_AT" >&2
exec "$@"
""".replace("@BUSYBOX@", HOLD_BUSYBOX).replace("@PREFIX@", BEGAN_PREFIX)

HOLD_PY = (
    "import os, sys, time\n"
    "d = float(os.environ.pop('CHORUS_HOLD_UNTIL', '0')) - time.time()\n"
    "if d > 0:\n"
    "    time.sleep(d)\n"
    "t = '%.6f' % time.time()\n"
    "os.environ['CHORUS_STARTED_AT'] = t\n"
    "os.write(2, ('" + BEGAN_PREFIX + " ' + t + '\\n').encode())\n"
    "os.execvpe(sys.argv[1], sys.argv[1:], os.environ)\n"
)


def hold_env(hold_until: float) -> dict[str, str]:
    return {"CHORUS_HOLD_UNTIL": f"{hold_until:.6f}"}


def began_filter(log: LogFn, on_begin: Callable[[float], None] | None) -> LogFn:
    """`log`, minus the wrapper's line: the first stderr line, if it is the wrapper's, goes to
    `on_begin(unix time)` instead. Only the first: the task itself cannot write before it, and
    a task that prints the same text later is logged like any other line."""
    seen = False

    def filtered(text: str, stream: str = "stdout") -> None:
        nonlocal seen
        if not seen and stream == "stderr":
            seen = True
            if text.startswith(BEGAN_PREFIX):
                try:
                    began = float(text[len(BEGAN_PREFIX) :].strip())
                except ValueError:
                    began = None
                if began is not None:
                    if on_begin is not None:
                        on_begin(began)
                    return
        log(text, stream)

    return filtered
