"""The `chorus` command without workers: login, tables, --json, usage and API errors."""

from __future__ import annotations

import stat

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_login_writes_a_private_config_file_that_later_commands_use(
    chorus, tokens, project, cli_home, live_server
):
    r = chorus(
        "login",
        "--url",
        live_server.url,
        "--token",
        tokens["developer"],
        "--project",
        "payments",
        url="http://127.0.0.1:9",
    )
    assert r.code == 0, r.err
    config = cli_home / ".config" / "chorus" / "config.toml"
    assert f"Saved to {config}" in r.out and "1 project(s)" in r.out
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text()
    assert tokens["developer"] in text and live_server.url in text
    # No CHORUS_URL / CHORUS_TOKEN: everything comes from the file.
    r = chorus("projects", "list", env={"CHORUS_URL": ""})
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["PROJECT", "NAME", "ROLE"]
    assert lines[1].split() == ["payments", "Payments", "developer"]


def test_login_with_a_bad_token_fails_and_writes_nothing(chorus, project, cli_home, live_server):
    r = chorus("login", "--url", live_server.url, "--token", "chorus_wrong")
    assert r.code == 1
    assert r.err.strip() == "chorus: error: Invalid or revoked API token."
    assert not (cli_home / ".config" / "chorus" / "config.toml").exists()


def test_json_output_is_the_api_json(chorus, tokens, project):
    r = chorus("projects", "list", "--json", token=tokens["viewer"])
    assert r.code == 0
    assert [(p["slug"], p["role"]) for p in r.json()] == [("payments", "viewer")]
    r = chorus("environments", "list", "--json", token=tokens["viewer"])
    assert [e["slug"] for e in r.json()] == ["dev", "prod"]


def test_usage_mistakes_exit_2_with_one_line(chorus, tokens, project):
    r = chorus("deploy", "payments/x", token=tokens["owner"])
    # --schedule is optional: chorus.toml may set it (schedules as code).
    assert r.code == 2 and "arguments are required: --env\n" in r.err
    r = chorus("frobnicate", token=tokens["owner"])
    assert r.code == 2 and "invalid choice" in r.err
    r = chorus("run", "payments/x", "--env", "dev", "--payload", "{nope", token=tokens["owner"])
    assert r.code == 2
    assert r.err.strip().startswith("chorus: error: --payload is not valid JSON")
    r = chorus("components", "view", "a/b/c", token=tokens["owner"])
    assert r.code == 2 and "use <project>/<component>" in r.err


def test_api_errors_exit_1_with_the_server_message(chorus, tokens, project):
    r = chorus("components", "view", "payments/ghost", token=tokens["owner"])
    assert (r.code, r.err.strip()) == (1, "chorus: error: No such component")
    r = chorus("components", "list", "--project", "payments", token=tokens["outsider"])
    assert (r.code, r.err.strip()) == (1, "chorus: error: No such project")
    r = chorus(
        "components", "create", "payments/tiny", "--sample", "health-check", token=tokens["viewer"]
    )
    assert r.code == 1
    assert r.err.strip() == (
        "chorus: error: This needs the developer role in Payments; you are a viewer."
    )
    r = chorus("projects", "list")
    assert r.code == 1 and "not logged in" in r.err
    r = chorus("projects", "list", token=tokens["owner"], url="http://127.0.0.1:9")
    assert r.code == 1
    assert r.err.strip() == (
        "chorus: error: cannot reach Chorus at http://127.0.0.1:9: connection refused"
    )
    assert len(r.err.strip().splitlines()) == 1


def test_components_create_list_view_delete(chorus, tokens, project):
    r = chorus(
        "components",
        "create",
        "payments/health",
        "--sample",
        "health-check",
        token=tokens["developer"],
    )
    assert r.code == 0, r.err
    assert r.out.strip() == "Created component payments/health (dockerfile, sample “health-check”)."
    r = chorus("components", "list", token=tokens["viewer"])  # the only project: implied
    assert r.code == 0
    header, row = r.out.splitlines()
    assert header.split() == ["COMPONENT", "PRESET", "SOURCE", "AUTO", "BUILD"]
    assert row.startswith("payments/health") and "dockerfile" in row
    # Columns line up: every column starts at the same offset in header and row.
    assert header.index("PRESET") == row.index("dockerfile")
    r = chorus(
        "components", "view", "health", "--project", "payments", "--json", token=tokens["viewer"]
    )
    assert r.json()["sample_key"] == "health-check"
    r = chorus("components", "delete", "payments/health", token=tokens["developer"])
    assert r.code == 2 and "--yes" in r.err
    r = chorus("components", "delete", "payments/health", "--yes", token=tokens["developer"])
    assert r.code == 0
    r = chorus("components", "list", "--json", token=tokens["viewer"])
    assert r.json() == []


def test_tokens_create_list_revoke(chorus, tokens, project, password):
    r = chorus("tokens", "create", "laptop", token=tokens["owner"])
    assert r.code == 2 and "--password-stdin" in r.err  # a token alone makes no token
    r = chorus(
        "tokens",
        "create",
        "laptop",
        "--password-stdin",
        "--expires-in-days",
        "30",
        token=tokens["owner"],
        stdin=password + "\n",
    )
    assert r.code == 0, r.err
    key = r.out.splitlines()[1]
    assert key.startswith("chorus_")
    r = chorus("tokens", "list", "--json", token=key)
    assert key not in r.out and {"cli", "laptop"} == {t["name"] for t in r.json()}
    laptop = next(t for t in r.json() if t["name"] == "laptop")
    assert laptop["expires_at"]  # --expires-in-days 30
    r = chorus("tokens", "list", token=key)
    assert "never" in r.out and laptop["expires_at"][:10] in r.out
    r = chorus("tokens", "revoke", str(laptop["id"]), token=tokens["owner"])
    assert r.code == 0 and "Revoked token laptop" in r.out
    r = chorus("projects", "list", token=key)
    assert r.code == 1 and "Invalid or revoked API token." in r.err


def test_schedule_preview(chorus, tokens, project):
    r = chorus(
        "schedule", "30 2 * * *", "--tz", "Europe/Berlin", "--count", "2", token=tokens["viewer"]
    )
    assert r.code == 0, r.err
    out = r.out.splitlines()
    assert out[0].startswith("At 02:30") and out[0].endswith("(Europe/Berlin)")
    assert out[1].split() == ["NEXT", "RUN", "UTC", "NOTE"]
    assert len(out) == 4 and "T02:30:00+0" in out[2]
    r = chorus("schedule", "61 * * * *", token=tokens["viewer"])
    assert r.code == 1 and r.err.startswith("chorus: error: schedule:")


def test_status_says_whether_beat_and_an_executions_worker_are_up(chorus, tokens, project):
    from datetime import timedelta

    from django.utils import timezone

    from observability.models import ProcessHeartbeat

    r = chorus("status", token=tokens["viewer"])
    assert r.code == 1  # nobody checked in: a monitoring script sees the failure
    assert r.out.splitlines()[0] == "Scheduler and workers: PROBLEM"
    assert "! No scheduler (beat) has checked in" in r.out
    assert "(no beat or worker has checked in)" in r.out

    now = timezone.now()
    ProcessHeartbeat.objects.create(name="beat@host:1", kind="beat", last_seen=now)
    ProcessHeartbeat.objects.create(
        name="exec@host", kind="worker", queues="chorus,executions", last_seen=now
    )
    ProcessHeartbeat.objects.create(
        name="old@host", kind="worker", queues="builds", last_seen=now - timedelta(hours=1)
    )
    r = chorus("status", token=tokens["viewer"])
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "Scheduler and workers: OK"
    assert lines[1].split() == ["KIND", "NAME", "QUEUES", "LAST", "SEEN", "FRESH"]
    rows = {line.split()[1]: line.split() for line in lines[2:]}
    assert rows["exec@host"][2] == "chorus,executions" and rows["exec@host"][-1] == "yes"
    assert rows["old@host"][-1] == "no"
    r = chorus("status", "--json", token=tokens["viewer"])
    body = r.json()
    assert body["ok"] is True and body["problems"] == []
    assert {p["name"] for p in body["processes"]} == {"beat@host:1", "exec@host", "old@host"}


def test_one_off_schedules_in_the_cli(chorus, tokens, project, alice):
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Deployment, Environment
    from deployments.schedules.parsing import parse_schedule
    from tests.support.factories import sample_component, succeeded_build

    r = chorus("schedule", "@at 2027-01-01T09:00", "--tz", "UTC", token=tokens["viewer"])
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].startswith("Once, at 09:00 on Fri 01 Jan 2027")
    assert len(r.out.splitlines()) == 3  # the heading, the header and its one run
    r = chorus("schedule", "@at 2027-10-31T02:30", "--tz", "Europe/Berlin", token=tokens["viewer"])
    assert r.code == 1 and "happens twice in Europe/Berlin" in r.err

    component = sample_component(project, "once", created_by=alice)
    d = deployment_deploy(
        component=component, environment=Environment.objects.get(slug="dev"),
        build=succeeded_build(component), schedule="@at 2027-01-01T09:00", timezone="UTC",
        actor=alice,
    )  # fmt: skip
    r = chorus("deployments", "list", f"{project.slug}/once", token=tokens["viewer"])
    assert r.code == 0, r.err
    assert r.out.splitlines()[1].split()[1] == "active"
    assert r.out.splitlines()[1].split()[-2:] == ["2027-01-01", "09:00:00Z"]  # the next run
    # Its tick handled (as beat does when it fires it): done, no next run.
    Deployment.objects.filter(pk=d.pk).update(
        last_tick_at=parse_schedule(d.schedule).instant("UTC")
    )
    r = chorus("deployments", "list", f"{project.slug}/once", token=tokens["viewer"])
    assert r.code == 0, r.err
    row = r.out.splitlines()[1].split()
    assert row[:2] == ["dev", "done"] and row[-1] == "-"  # no next run


def test_components_update_switches_schedules_as_code(chorus, tokens, project):
    r = chorus(
        "components", "create", "payments/health", "--sample", "health-check",
        token=tokens["developer"],
    )  # fmt: skip
    assert r.code == 0, r.err
    r = chorus("components", "update", "payments/health", "--managed", "on", token=tokens["viewer"])
    assert r.code == 1 and "needs the developer role" in r.err, r.err
    r = chorus(
        "components", "update", "payments/health", "--managed", "on", token=tokens["developer"]
    )
    assert r.code == 0, r.err
    assert r.out.strip() == (
        "Updated payments/health: schedules managed by the repository; auto-build off."
    )
    r = chorus("components", "view", "payments/health", token=tokens["viewer"])
    assert "managed by the repository: yes" in r.out
    r = chorus("components", "update", "payments/health", token=tokens["developer"])
    assert r.code == 2 and "nothing to change" in r.err


def test_dst_rule_and_policies_from_the_cli(chorus, tokens, component, build, ran):
    from deployments.models import Deployment

    name = f"payments/{component.name}"
    r = chorus(
        "deploy", name, "--env", "dev", "--schedule", "30 2 * * *", "--tz", "Europe/Berlin",
        "--dst-rule", "every", token=tokens["developer"],
    )  # fmt: skip
    assert r.code == 0, r.err
    dev = Deployment.objects.get(component=component, environment__slug="dev")
    assert (dev.schedule, dev.dst_rule) == ("30 2 * * *", "every")

    # A value the server refuses: its message, exit 1, nothing changed.
    r = chorus("deploy", name, "--env", "dev", "--dst-rule", "sometimes", token=tokens["developer"])
    assert (r.code, r.err.strip()) == (
        1,
        'chorus: error: policies: dst_rule: "sometimes" is not one of: cron, every, once.',
    )
    r = chorus("policies", name, "--env", "dev", "--dst-rule", "never", token=tokens["developer"])
    assert (r.code, r.err.strip()) == (
        1,
        'chorus: error: dst_rule: "never" is not one of: cron, every, once.',
    )
    dev.refresh_from_db()
    assert dev.dst_rule == "every"

    # `chorus policies` changes only the policies given; build and schedule stay.
    r = chorus(
        "policies", name, "--env", "dev", "--max-retries", "2", "--timeout", "300",
        "--dst-rule", "once", token=tokens["developer"],
    )  # fmt: skip
    assert r.code == 0, r.err
    out = r.out.splitlines()
    assert out[0] == f"Changed policies of {component.name} in dev."
    shown = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in out[1:]}
    assert (shown["max_retries"], shown["timeout_seconds"], shown["dst_rule"]) == (
        "2",
        "300",
        "once",
    )
    dev.refresh_from_db()
    assert (dev.max_retries, dev.timeout_seconds, dev.dst_rule) == (2, 300, "once")
    assert (dev.schedule, dev.timezone, dev.build_id) == ("30 2 * * *", "Europe/Berlin", build.pk)
    r = chorus("policies", name, "--env", "dev", "--retries", "3", token=tokens["viewer"])
    assert r.code == 1 and "viewers can look but not change anything" in r.err
    r = chorus("policies", name, "--env", "dev", token=tokens["viewer"])  # no options: a look
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == f"Policies of {component.name} in dev:"
    assert ("max_retries:", "2") in [tuple(line.split()) for line in r.out.splitlines()]
    dev.refresh_from_db()
    assert dev.max_retries == 2

    # Promote with its own DST rule.
    ran(dev)
    r = chorus("promote", name, "--dst-rule", "every", "--json", token=tokens["owner"])
    assert r.code == 0, r.err
    assert r.json()["policies"]["dst_rule"] == "every"
    prod = Deployment.objects.get(component=component, environment__slug="prod")
    assert (prod.dst_rule, prod.build_id) == ("every", build.pk)


def test_schedule_preview_follows_the_dst_rule(chorus, tokens, project):
    """Sundays of October at 02:30 in Berlin: the last one repeats 02:30 (clocks go back).
    Ten runs always span a whole October, whatever today is."""

    def repeated(*rule: str) -> int:
        r = chorus(
            "schedule", "30 2 * 10 0", "--tz", "Europe/Berlin", "--count", "10", "--json", *rule,
            token=tokens["viewer"],
        )  # fmt: skip
        assert r.code == 0, r.err
        local = [run["at_local"][:19] for run in r.json()["next_runs"]]
        return len(local) - len(set(local))

    assert repeated() == 0  # cron: a fixed hour runs once
    assert repeated("--dst-rule", "every") >= 1  # twice on the night the clocks go back
    r = chorus("schedule", "@daily", "--dst-rule", "twice", token=tokens["viewer"])
    assert (r.code, r.err.strip()) == (
        1,
        'chorus: error: dst_rule: "twice" is not one of: cron, every, once.',
    )
