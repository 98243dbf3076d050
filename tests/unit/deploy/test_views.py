"""The Deploy view and its forms, through the Django test client, for each role."""

from __future__ import annotations

import re

import pytest
from django_celery_beat.models import PeriodicTask

from deployments.deploy.services.config import config_set
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.models import ConfigVar, Deployment, DeploymentEvent

pytestmark = pytest.mark.django_db

SECRET = "pa55-Wombat-Quasar-9931"


def url(component, tail=""):
    return f"/p/{component.project.slug}/c/{component.name}/{tail}"


@pytest.fixture
def deployed(component, dev, build, bob):
    return deployment_deploy(
        component=component,
        environment=dev,
        build=build,
        schedule="30 2 * * *",
        timezone="Europe/Berlin",
        actor=bob,
    )


def text(response) -> str:
    return response.content.decode()


def test_page_shows_deployment_words_next_runs_and_log(client_for, carol, component, deployed):
    r = client_for(carol).get(url(component, "deploy/"))
    assert r.status_code == 200
    html = text(r)
    assert "At 02:30" in html and "Europe/Berlin" in html
    assert deployed.build.image_digest in html
    assert html.count('class="next-run') == 5
    assert "UTC" in html
    assert "Deployed build #" in html  # deploy log
    assert "Not deployed in Production." in html
    # A viewer sees no forms that change anything.
    assert "Run now" not in html and "Suspend" not in html and "Save secret" not in html


def test_outsider_gets_404_everywhere(client_for, dave, component, deployed):
    c = client_for(dave)
    for tail in ["deploy/", "deploy/preview/?schedule=*", "env/dev/deploy/", "env/dev/config/"]:
        assert c.get(url(component, tail)).status_code == 404, tail


def test_viewer_gets_403_on_change_forms(client_for, carol, component, deployed, build):
    c = client_for(carol)
    assert c.get(url(component, "env/dev/deploy/")).status_code == 403
    r = c.post(
        url(component, "env/dev/deploy/"),
        {"build": build.pk, "schedule": "* * * * *", "timezone": "UTC"},
    )
    assert r.status_code == 403
    assert c.post(url(component, "env/dev/suspend/")).status_code == 403
    deployed.refresh_from_db()
    assert deployed.schedule == "30 2 * * *" and deployed.status == "active"


def test_developer_deploys_through_the_form(client_for, bob, component, build):
    r = client_for(bob).post(
        url(component, "env/dev/deploy/"),
        {"build": build.pk, "schedule": "*/5 * * * *", "timezone": "Asia/Tokyo"},
        follow=True,
    )
    assert r.status_code == 200
    assert f"Deployed build #{build.pk} to Development: Every 5 minutes (Asia/Tokyo)." in text(r)
    d = Deployment.objects.get()
    assert (d.schedule, d.timezone) == ("*/5 * * * *", "Asia/Tokyo")
    assert str(d.periodic_task.crontab.timezone) == "Asia/Tokyo"


def test_invalid_cron_and_timezone_get_clear_messages_in_the_form(
    client_for, bob, component, build
):
    r = client_for(bob).post(
        url(component, "env/dev/deploy/"),
        {"build": build.pk, "schedule": "61 * * * *", "timezone": "Mars/Olympus"},
    )
    html = text(r)
    assert "Invalid minute field &quot;61&quot;" in html
    assert "Unknown timezone &quot;Mars/Olympus&quot;" in html
    assert not Deployment.objects.exists()


@pytest.mark.parametrize("button", [{}, {"preview": "1"}], ids=["deploy", "preview"])
def test_invalid_cron_error_is_shown_once_under_its_field(
    client_for, bob, component, build, button
):
    r = client_for(bob).post(
        url(component, "env/dev/deploy/"),
        {"build": build.pk, "schedule": "61 * * * *", "timezone": "UTC", **button},
    )
    html = text(r)
    assert html.count("Invalid minute field &quot;61&quot;") == 1
    assert re.search(r'<div class="error" role="alert">Invalid minute field', html)
    assert "schedule-error" not in html
    r = client_for(bob).post(
        url(component, "env/dev/deploy/"),
        {"build": build.pk, "schedule": "0 2 * * *", "timezone": "Mars/Olympus", **button},
    )
    assert text(r).count("Unknown timezone &quot;Mars/Olympus&quot;") == 1


def test_promote_invalid_cron_error_is_shown_once(client_for, alice, component, deployed, ran):
    ran(deployed)
    r = client_for(alice).post(
        url(component, "env/prod/promote/"), {"schedule": "61 * * * *", "timezone": "UTC"}
    )
    html = text(r)
    assert html.count("Invalid minute field &quot;61&quot;") == 1
    assert re.search(r'<div class="error" role="alert">Invalid minute field', html)


def test_preview_button_shows_runs_without_deploying(client_for, bob, component, build):
    r = client_for(bob).post(
        url(component, "env/dev/deploy/"),
        {"build": build.pk, "schedule": "@every 10m", "timezone": "UTC", "preview": "1"},
    )
    assert "Every 10 minutes" in text(r)
    assert text(r).count('class="next-run') == 5
    assert not Deployment.objects.exists()


def test_htmx_preview_fragment(client_for, carol, component):
    r = client_for(carol).get(
        url(component, "deploy/preview/"),
        {"schedule": "30 2 * * *", "timezone": "Europe/Berlin"},
        headers={"HX-Request": "true"},
    )
    html = text(r)
    assert "<html" not in html
    assert "At 02:30" in html and html.count('class="next-run') == 5
    r = client_for(carol).get(url(component, "deploy/preview/"), {"schedule": "* * *"})
    assert "has 3 fields" in text(r)


def test_a_utc_schedule_lists_each_next_run_once(client_for, carol, component):
    def preview(zone: str) -> str:
        return text(
            client_for(carol).get(
                url(component, "deploy/preview/"),
                {"schedule": "30 2 * * *", "timezone": zone},
                headers={"HX-Request": "true"},
            )
        )

    utc = preview("UTC")
    assert utc.count('class="next-run') == 5
    # One column: the same time is not written twice, and UTC has no DST to note.
    assert utc.count(" UTC</td>") == 5 and "<th>DST</th>" not in utc
    assert utc.count("02:30 UTC") == 5
    berlin = preview("Europe/Berlin")
    assert "<th>In Europe/Berlin</th><th>In UTC</th><th>DST</th>" in berlin


def test_a_schedule_firing_within_minutes_shows_each_run_to_the_second(
    client_for, carol, component
):
    import re

    html = text(
        client_for(carol).get(
            url(component, "deploy/preview/"),
            {"schedule": "@every 20s", "timezone": "UTC"},
            headers={"HX-Request": "true"},
        )
    )
    times = re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC</td>", html)
    assert len(times) == 5 and len(set(times)) == 5, times


def test_promote_form_shows_dev_schedule_and_diff(
    client_for, alice, component, deployed, ran, prod
):
    ran(deployed)
    c = client_for(alice)
    r = c.get(url(component, "env/prod/promote/"))
    html = text(r)
    assert r.status_code == 200
    assert 'id="source-schedule">30 2 * * *<' in html
    r = c.post(
        url(component, "env/prod/promote/"),
        {"schedule": "0 2 * * *", "timezone": "Europe/Berlin", "preview": "1"},
    )
    html = text(r)
    assert re.search(
        r"0 2 \* \* \* — At 02:00</strong> <span class=\"badge badge-pending\">changes", html
    )
    assert not Deployment.objects.filter(environment=prod).exists()
    r = c.post(
        url(component, "env/prod/promote/"),
        {"schedule": "0 2 * * *", "timezone": "Europe/Berlin"},
        follow=True,
    )
    assert f"Promoted build #{deployed.build_id} from Development to Production." in text(r)
    p = Deployment.objects.get(environment=prod)
    assert p.build_id == deployed.build_id


def test_promote_refusal_is_shown(client_for, alice, component, deployed):
    r = client_for(alice).post(
        url(component, "env/prod/promote/"), {"schedule": "0 2 * * *", "timezone": "UTC"}
    )
    assert "has not run successfully in Development yet" in text(r)


def test_developer_cannot_open_promote(client_for, bob, component, deployed, ran):
    ran(deployed)
    r = client_for(bob).get(url(component, "env/prod/promote/"))
    assert r.status_code == 403
    assert "Only project owners can promote in Production." in text(r)


def test_suspend_resume_undeploy_through_the_page(client_for, bob, component, deployed):
    c = client_for(bob)
    r = c.post(url(component, "env/dev/suspend/"), follow=True)
    assert "ticks are recorded as skipped" in text(r)
    assert Deployment.objects.get().status == "suspended"
    c.post(url(component, "env/dev/resume/"))
    assert Deployment.objects.get().status == "active"
    r = c.get(url(component, "env/dev/undeploy/"))
    assert "Past executions, their logs and the deploy log are kept" in text(r)
    r = c.post(url(component, "env/dev/undeploy/"), follow=True)
    assert "Undeployed from Development" in text(r)
    assert Deployment.objects.get().status == "undeployed"
    assert not PeriodicTask.objects.filter(name__startswith="chorus:").exists()


def test_rollback_through_the_page(client_for, bob, component, deployed, make_build):
    older = deployed.build
    newer = make_build()
    deployment_deploy(
        component=component,
        environment=deployed.environment,
        build=newer,
        schedule=deployed.schedule,
        timezone=deployed.timezone,
        actor=bob,
    )
    r = client_for(bob).post(url(component, "env/dev/rollback/"), {"build": older.pk}, follow=True)
    assert f"Development now runs build #{older.pk}." in text(r)
    assert Deployment.objects.get().build == older


def test_run_now_rejects_bad_json(client_for, bob, component, deployed):
    r = client_for(bob).post(url(component, "env/dev/run/"), {"payload": "{nope"})
    assert "The payload is not valid JSON" in text(r)


def test_policies_edit(client_for, bob, component, deployed):
    c = client_for(bob)
    data = {
        "timeout_seconds": 45,
        "max_retries": 3,
        "retry_delay_seconds": 5,
        "concurrency_policy": "replace",
        "starting_deadline_seconds": 30,
        "catchup_policy": "all",
        "catchup_window_seconds": 600,
        "keep_successes": 10,
        "keep_failures": 20,
        "keep_days": 3,
    }
    r = c.post(url(component, "env/dev/policies/"), data, follow=True)
    assert "Policies of Development saved." in text(r)
    d = Deployment.objects.get()
    assert (d.timeout_seconds, d.concurrency_policy, d.keep_days) == (45, "replace", 3)
    r = c.post(url(component, "env/dev/policies/"), {**data, "timeout_seconds": 99999})
    assert "Ensure this value is less than or equal to" in text(r) or "between 1 and" in text(r)


def test_config_editor_masks_secrets(client_for, bob, carol, component, deployed):
    c = client_for(bob)
    c.post(url(component, "env/dev/config/"), {"kind": "plain", "key": "REGION", "value": "eu"})
    r = c.post(
        url(component, "env/dev/config/"),
        {"kind": "secret", "key": "API_KEY", "value": SECRET},
        follow=True,
    )
    assert "Secret API_KEY saved in Development." in text(r)
    assert ConfigVar.objects.get(key="API_KEY").is_secret
    for user in (bob, carol):
        html = text(client_for(user).get(url(component, "deploy/")))
        assert "API_KEY" in html and "••••" in html and "REGION" in html
        assert SECRET not in html
    Deployment.objects.get().refresh_from_db()
    assert Deployment.objects.get().config_revision == 3


def test_secret_form_error_does_not_echo_the_value(client_for, bob, component, deployed):
    r = client_for(bob).post(
        url(component, "env/dev/config/"),
        {"kind": "secret", "key": "CHORUS_BAD", "value": SECRET},
    )
    assert r.status_code == 400
    assert "set by Chorus at run time" in text(r)
    assert SECRET not in text(r)


def test_developer_cannot_set_production_secret(client_for, bob, component, deployed):
    r = client_for(bob).post(
        url(component, "env/prod/config/"), {"kind": "secret", "key": "K", "value": SECRET}
    )
    assert r.status_code == 403
    assert not ConfigVar.objects.exists()
    assert DeploymentEvent.objects.filter(kind="secret", outcome="failed").exists()


def test_secret_never_in_any_deploy_page(client_for, alice, carol, component, deployed, ran, prod):
    """Render every page of the deploy feature, for an owner and a viewer, and grep for it."""
    ran(deployed)
    for env in (deployed.environment, prod):
        config_set(
            component=component,
            environment=env,
            key="DB_PASSWORD",
            value=SECRET,
            is_secret=True,
            actor=alice,
        )
    owner = client_for(alice)
    owner.post(url(component, "env/prod/promote/"), {"schedule": "0 2 * * *", "timezone": "UTC"})
    assert Deployment.objects.filter(environment=prod).exists()
    pages = [
        "deploy/",
        "deploy/preview/?schedule=*/5+*+*+*+*&timezone=UTC",
        "env/dev/deploy/",
        "env/prod/deploy/",
        "env/prod/promote/",
        "env/dev/undeploy/",
        "env/dev/run/",
        "env/dev/policies/",
        "env/dev/config/",
        "env/prod/config/",
        "builds/",
    ]
    for client, expect_ok in ((owner, True), (client_for(carol), False)):
        for tail in pages:
            r = client.get(url(component, tail))
            assert SECRET not in text(r), tail
            if expect_ok:
                assert r.status_code == 200, (tail, r.status_code)
    events = " ".join(DeploymentEvent.objects.values_list("message", flat=True))
    assert SECRET not in events


def test_builds_whose_image_was_removed_are_not_offered(
    client_for, bob, component, build, make_build
):
    from django.utils import timezone

    removed = make_build()
    removed.image_removed_at = timezone.now()
    removed.save(update_fields=["image_removed_at"])
    page = text(client_for(bob).get(url(component, "env/dev/deploy/")))
    assert f'value="{build.pk}"' in page
    assert f'value="{removed.pk}"' not in page
    # A page opened before the clean-up: the choice is refused with a message, nothing deployed.
    r = client_for(bob).post(
        url(component, "env/dev/deploy/"),
        {"build": removed.pk, "schedule": "*/5 * * * *", "timezone": "UTC"},
    )
    assert "its image was removed by image clean-up" in text(r)
    assert not Deployment.objects.exists()
