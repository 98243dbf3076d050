"""Twenty deployments failing at once under one alert rule, with a real beat and two
executions workers: each deployment's incident sends one alert and, once it runs green again,
one recovery - counted as the messages a webhook receiver really got, while the failures of
one tick are evaluated side by side in two worker processes.

One component deployed to twenty environments (record runtime), `@every 2s`, all failing
(RECORD_EXIT_CODE=1) on the same ticks; one `on_failure` rule with recovery messages, for
every environment. After three failed ticks each, the configuration is fixed.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import closing

import pytest

from tests.support.private_services import RedisServer
from tests.support.processes import start_beat, start_worker
from tests.support.webhook_receiver import Receiver

from .restarts import PROCESS_ENV

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(600)]

N = 20
FAILED_TICKS = 3


def _failed_ticks(deployment_ids) -> Counter:
    from django.db import connection

    from deployments.models import Execution

    connection.close()  # a fresh connection sees the workers' commits
    return Counter(
        Execution.objects.filter(deployment_id__in=deployment_ids, status="failed").values_list(
            "deployment_id", flat=True
        )
    )


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def storm(django_db_setup, django_db_blocker):
    from components.models import Component
    from deployments.deploy.services.config import config_set
    from deployments.models import Deployment, Environment, Execution
    from observability.models import AlertDelivery, Incident
    from observability.services.alert_config import alert_channel_create, alert_rule_create
    from portal.models import Project
    from tests.support.fault_data import delete, seed

    procs = []
    with (
        django_db_blocker.unblock(),
        closing(Receiver()) as receiver,
        closing(RedisServer().start()) as broker,
    ):
        env = {**PROCESS_ENV, "REDIS_URL": broker.url, "CELERY_BROKER_URL": broker.url}
        seeded = seed(
            {
                "prefix": "storm",
                "environments": [
                    {"slug": f"storm-{i}", "name": f"Storm {i}", "order": 400 + i,
                     "runtime_kind": "record"}
                    for i in range(1, N + 1)
                ],
                "deployments": [
                    {"name": f"storm-{i}", "component": "storm", "environment": f"storm-{i}",
                     "image": "record", "schedule": "@every 2s",
                     "policies": {"concurrency_policy": "allow",
                                  "starting_deadline_seconds": 120},
                     "config": {"RECORD_EXIT_CODE": "1", "RECORD_PRINT_ENV": "0"}}
                    for i in range(1, N + 1)
                ],
            }
        )  # fmt: skip
        try:
            from django.contrib.auth import get_user_model

            owner = get_user_model().objects.get(pk=seeded["user_id"])
            project = Project.objects.get(pk=seeded["project_id"])
            component = Component.objects.get(pk=seeded["components"]["storm"])
            channel = alert_channel_create(
                project=project, actor=owner, name="ops", kind="webhook", webhook_url=receiver.url
            )
            alert_rule_create(component=component, actor=owner, kind="on_failure", channel=channel)
            ids = list(seeded["deployments"].values())
            for n in (1, 2):
                procs.append(
                    start_worker(
                        f"faults-storm-worker-{n}",
                        pool="threads",
                        concurrency=16,
                        queues="chorus,executions",
                        extra_env=env,
                    )  # fmt: skip
                )
            procs.append(start_beat("faults-storm-beat", extra_env=env))
            _wait(
                lambda: all(_failed_ticks(ids)[pk] >= FAILED_TICKS for pk in ids),
                240,
                f"{FAILED_TICKS} failed ticks of every deployment",
            )
            failed_before_fix = _failed_ticks(ids)
            # The fix, as a developer makes it: the configuration of every environment.
            for environment in Environment.objects.filter(pk__in=seeded["environment_ids"]):
                config_set(
                    component=component, environment=environment, key="RECORD_EXIT_CODE",
                    value="0", is_secret=False, actor=owner,
                )  # fmt: skip
            _wait(lambda: len(receiver.texts) >= 2 * N, 240, f"{2 * N} webhook messages")
            time.sleep(6)  # more green ticks: nothing more may be sent
            result = {
                "texts": receiver.texts,
                "failed_before_fix": failed_before_fix,
                "names": {
                    d.pk: d.environment.name
                    for d in Deployment.objects.filter(pk__in=ids).select_related("environment")
                },
                "incidents": list(
                    Incident.objects.filter(deployment_id__in=ids).values_list(
                        "deployment_id", "status"
                    )
                ),
                "deliveries": Counter(
                    AlertDelivery.objects.filter(incident__deployment_id__in=ids).values_list(
                        "kind", flat=True
                    )
                ),
                "succeeded": Counter(
                    Execution.objects.filter(deployment_id__in=ids, status="succeeded").values_list(
                        "deployment_id", flat=True
                    )
                ),
            }
        finally:
            for p in procs:
                p.stop()
            delete(seeded)
    return result


def _by_environment(texts: list[str], names) -> Counter:
    counts: Counter = Counter()
    for text in texts:
        # "payments/storm (Storm 7): ..." - the environment in brackets, once per message.
        found = [n for n in names if f"/storm ({n})" in text]
        assert len(found) == 1, text
        counts[found[0]] += 1
    return counts


def test_every_deployment_failed_several_ticks_at_once(storm):
    assert len(storm["failed_before_fix"]) == N
    assert all(n >= FAILED_TICKS for n in storm["failed_before_fix"].values())


def test_one_alert_message_per_incident(storm):
    names = list(storm["names"].values())
    alerts = [t for t in storm["texts"] if " recovered: " not in t]
    assert len(alerts) == N, alerts
    assert _by_environment(alerts, names) == Counter({n: 1 for n in names})
    assert all("run failed with exit code 1" in t for t in alerts)


def test_one_recovery_message_per_incident(storm):
    names = list(storm["names"].values())
    recoveries = [t for t in storm["texts"] if " recovered: " in t]
    assert len(recoveries) == N, recoveries
    assert _by_environment(recoveries, names) == Counter({n: 1 for n in names})
    assert all(storm["succeeded"][pk] >= 1 for pk in storm["names"])


def test_each_deployment_had_one_incident_now_closed(storm):
    assert sorted(storm["incidents"]) == sorted((pk, "closed") for pk in storm["names"])
    assert storm["deliveries"] == Counter({"alert": N, "recovery": N})
