"""A run's result: the JSON object a task may write to the file named by CHORUS_RESULT_FILE.

    {"status": "succeeded" | "partial" | "failed", "summary": "…", "stats": {"rows": 120, …}}

The runtime makes the file writable and hands its bytes back (RunResult.result, at most
MAX_RESULT_BYTES + 1 of them); this module reads them into what the execution keeps
(Execution.result): the three fields, with secrets masked and sizes capped, or a record of why
the file was not a result ({"error": "…"}). The exit code still decides success or failure: a
run that exits 0 is `partial` when its result says so, `succeeded` otherwise (a result saying
"failed" is kept and shown, not obeyed); a run that exits non-zero is `failed` whatever it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from deployments.logs import mask_secrets
from deployments.runtimes.base import RESULT_MAX_BYTES

MAX_RESULT_BYTES = RESULT_MAX_BYTES
MAX_SUMMARY_CHARS = 1000
MAX_STATS = 50
MAX_STAT_KEY_CHARS = 100
MAX_STAT_TEXT_CHARS = 200
STATUSES = ("succeeded", "partial", "failed")


def read_result(raw: bytes | None, secrets: Iterable[str] = ()) -> dict | None:
    """What the execution keeps of the result file's bytes; None when no file was written."""
    if raw is None:
        return None
    if len(raw) > MAX_RESULT_BYTES:
        return {"error": f"oversized: the result file is over {MAX_RESULT_BYTES} bytes"}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return {"error": f"malformed: the result file is not JSON ({_short(exc)})"}
    if not isinstance(data, dict):
        return {"error": "malformed: the result must be a JSON object"}
    status = data.get("status")
    if status not in STATUSES:
        return {"error": f"malformed: status must be one of {', '.join(STATUSES)}"}
    summary = data.get("summary", "")
    if not isinstance(summary, str):
        return {"error": "malformed: summary must be a string"}
    stats = data.get("stats", {})
    if not isinstance(stats, dict):
        return {"error": "malformed: stats must be an object"}
    if len(stats) > MAX_STATS:
        return {"error": f"malformed: at most {MAX_STATS} stats"}
    secrets = list(secrets)
    clean: dict[str, int | float | bool | str | None] = {}
    for key, value in stats.items():
        if isinstance(value, dict | list):
            return {"error": f'malformed: stat "{_short(key)}" must be a number, text or boolean'}
        if isinstance(value, str):
            value = mask_secrets(value, secrets)[:MAX_STAT_TEXT_CHARS]
        clean[mask_secrets(str(key), secrets)[:MAX_STAT_KEY_CHARS]] = value
    return {
        "status": status,
        "summary": mask_secrets(summary, secrets)[:MAX_SUMMARY_CHARS],
        "stats": clean,
    }


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
