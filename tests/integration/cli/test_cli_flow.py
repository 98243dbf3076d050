"""A task from a git URL to Production with nothing but the `chorus` command.

create → build --wait (live log) → config + secret → deploy to dev in Europe/Berlin →
promotion refused (never ran) → run now with a payload --follow → logs --follow of a slow run
→ promote to prod with its own schedule → executions list → suspend / resume / undeploy.
A real Celery worker builds and runs with the local runtime (no Docker needed).
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.support.gitrepos import BareRepo
from tests.support.processes import flush_broker, start_worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "tok-3f9a81c2-very-secret"

MAIN = textwrap.dedent(
    """
    import json, os, time
    payload = json.loads(os.environ.get("CHORUS_PAYLOAD") or "null")
    print("hello from report", flush=True)
    print("payload:", json.dumps(payload, sort_keys=True), flush=True)
    print("greeting:", os.environ.get("GREETING"), flush=True)
    print("api key:", os.environ.get("API_KEY"), flush=True)
    if isinstance(payload, dict) and payload.get("slow"):
        for i in range(3):
            time.sleep(1)
            print(f"tick {i}", flush=True)
    print("done", flush=True)
    """
)


@pytest.fixture
def repo(tmp_path):
    r = BareRepo.create(tmp_path / "tasks.git")
    r.commit(
        {
            "jobs/report/main.py": MAIN,
            "jobs/report/chorus.toml": 'entry = "python3 main.py"\n',
            "jobs/report/requirements.txt": "# standard library only\n",
        },
        message="Add the report task",
    )
    return r


@pytest.fixture
def worker():
    from deployments.models import Environment

    Environment.objects.update(runtime_kind="local")
    flush_broker()
    proc = start_worker(
        "cli-worker",
        # Same var/ as the live server: the same development encryption key for secrets.
        extra_env={"CHORUS_DEFAULT_RUNTIME": "local"},
    )
    yield proc
    proc.stop()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_from_git_url_to_production_with_the_cli(chorus, tokens, project, repo, worker):
    dev, owner = tokens["developer"], tokens["owner"]

    r = chorus(
        "components",
        "create",
        "payments/report",
        "--git",
        repo.url,
        "--branch",
        "main",
        "--path",
        "jobs/report",
        token=dev,
    )
    assert r.code == 0, r.err
    assert "Created component payments/report (python" in r.out

    # Build, following the live log to the end.
    r = chorus("build", "payments/report", "--wait", token=dev)
    assert r.code == 0, (r.out, r.err, worker.output()[-3000:])
    assert "Build succeeded:" in r.out
    assert r.err.strip().endswith("succeeded.")
    r = chorus("builds", "list", "payments/report", "--json", token=dev)
    (build,) = r.json()
    assert build["status"] == "succeeded" and build["commit_message"] == "Add the report task"
    r = chorus("builds", "logs", str(build["id"]), token=dev)
    assert r.code == 0 and "Build succeeded:" in r.out

    # Config and a secret read from stdin (never in argv), listed masked.
    r = chorus("config", "set", "payments/report", "--env", "dev", "GREETING=hi there", token=dev)
    assert r.code == 0 and r.out.strip() == "Set GREETING in dev."
    r = chorus(
        "config",
        "set",
        "payments/report",
        "--env",
        "dev",
        "--secret",
        "API_KEY=-",
        stdin=SECRET + "\n",
        token=dev,
    )
    assert r.code == 0 and r.out.strip() == "Set API_KEY (secret) in dev."
    r = chorus("config", "list", "payments/report", "--env", "dev", token=dev)
    table = lines(r.out)
    assert table[0].split()[:3] == ["KEY", "VALUE", "SECRET"]
    assert table[1].split()[:3] == ["API_KEY", "••••", "yes"]
    assert table[2].startswith("GREETING") and "hi there" in table[2]
    assert SECRET not in r.out

    # Deploy to Development.
    r = chorus(
        "deploy",
        "payments/report",
        "--env",
        "dev",
        "--schedule",
        "0 2 * * *",
        "--tz",
        "Europe/Berlin",
        token=dev,
    )
    assert r.code == 0, r.err
    assert f"Deployed report to dev: build {build['id']}" in r.out
    assert "“0 2 * * *” Europe/Berlin, active." in r.out
    r = chorus("deploy", "payments/report", "--env", "dev", "--schedule", "61 * * * *", token=dev)
    assert r.code == 1 and r.err.startswith("chorus: error: schedule:")
    assert len(lines(r.err)) == 1

    # Production only takes an image that ran in Development.
    r = chorus("promote", "payments/report", token=owner)
    assert r.code == 1 and "has not run successfully in Development" in r.err

    # Run now with a payload, following the log; the secret is masked in it.
    r = chorus(
        "run",
        "payments/report",
        "--env",
        "dev",
        "--payload",
        '{"who": "cli"}',
        "--follow",
        token=dev,
    )
    assert r.code == 0, (r.out, r.err, worker.output()[-3000:])
    out = lines(r.out)
    assert "hello from report" in out
    assert 'payload: {"who": "cli"}' in out
    assert "greeting: hi there" in out
    assert SECRET not in r.out and any(line.startswith("api key: ") for line in out)
    assert out[-2] == "done" and out[-1].startswith("[chorus] succeeded (exit code 0)")
    assert "succeeded (exit code 0)" in r.err

    # A slow run: start it, then follow its log from another command until it ends.
    r = chorus(
        "run", "payments/report", "--env", "dev", "--payload", '{"slow": true}', "--json", token=dev
    )
    execution = r.json()
    assert execution["status"] == "pending"
    r = chorus("logs", str(execution["id"]), "--follow", token=tokens["viewer"])
    assert r.code == 0
    out = lines(r.out)
    assert out[out.index("tick 0") : -1] == ["tick 0", "tick 1", "tick 2", "done"]
    assert out[-1].startswith("[chorus] succeeded")
    assert out.count("hello from report") == 1  # each line once, however many polls
    r = chorus("logs", str(execution["id"]), "--json", token=dev)
    logged = r.json()
    assert logged["status"] == "succeeded" and logged["finished"] is True
    assert [x["text"] for x in logged["lines"]][-2:] == ["done", out[-1]]
    assert [x["seq"] for x in logged["lines"]] == sorted({x["seq"] for x in logged["lines"]})
    r = chorus("executions", "view", str(execution["id"]), "--json", token=dev)
    assert r.json()["status"] == "succeeded" and r.json()["exit_code"] == 0

    # Promote to Production with its own schedule (owners only).
    r = chorus("promote", "payments/report", token=dev)
    assert r.code == 1 and "Only project owners can promote in Production." in r.err
    r = chorus("promote", "payments/report", "--schedule", "30 3 * * 1", "--tz", "UTC", token=owner)
    assert r.code == 0, r.err
    assert f"Promoted report to prod: build {build['id']}" in r.out
    r = chorus("deployments", "list", "payments/report", "--json", token=dev)
    assert [(d["environment"], d["schedule"], d["timezone"], d["build"]) for d in r.json()] == [
        ("dev", "0 2 * * *", "Europe/Berlin", build["id"]),
        ("prod", "30 3 * * 1", "UTC", build["id"]),
    ]

    # Executions, filtered; human table.
    r = chorus(
        "executions", "list", "payments/report", "--env", "dev", "--status", "succeeded", token=dev
    )
    rows = lines(r.out)
    assert rows[0].split()[:4] == ["EXECUTION", "ENV", "STATUS", "TRIGGER"]
    assert len(rows) == 3 and all(" succeeded " in row for row in rows[1:])
    r = chorus("executions", "list", "payments/report", "--env", "prod", "--json", token=dev)
    assert r.json() == []

    # Suspend, resume, undeploy Production.
    for action, status in (
        ("suspend", "suspended"),
        ("resume", "active"),
        ("undeploy", "undeployed"),
    ):
        r = chorus(action, "payments/report", "--env", "prod", "--json", token=owner)
        assert r.code == 0, r.err
        assert r.json()["status"] == status
    r = chorus("suspend", "payments/report", "--env", "prod", token=owner)
    assert r.code == 1 and "undeployed" in r.err

    # Re-run the first run: same payload, new execution.
    first = chorus("executions", "list", "payments/report", "--json", token=dev).json()[-1]
    r = chorus("executions", "rerun", str(first["id"]), "--json", token=dev)
    assert r.code == 0 and r.json()["parent"] == first["id"]
    assert r.json()["payload"] == json.loads('{"who": "cli"}')
