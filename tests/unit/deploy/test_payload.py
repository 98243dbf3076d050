"""A fixed payload per deployment: validated and capped, kept across redeploys unless changed,
logged, and shown in the promotion diff (the scheduled run's side is in
tests/unit/executions/test_payload_runs.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from deployments.deploy.services.lifecycle import deployment_deploy, deployment_promote
from deployments.models import DeploymentEvent

pytestmark = pytest.mark.django_db


def deploy(component, env, build, actor, **kw):
    return deployment_deploy(
        component=component, environment=env, build=build, schedule="0 2 * * *", actor=actor, **kw
    )


def test_payload_is_validated_kept_and_logged(component, dev, build, bob):
    d = deploy(component, dev, build, bob, payload='{"region": "eu", "limit": 100}')
    assert d.payload == {"region": "eu", "limit": 100}
    assert deploy(component, dev, build, bob).payload == {"region": "eu", "limit": 100}  # kept
    with pytest.raises(ValidationError, match=r"The payload is not valid JSON: Expecting"):
        deploy(component, dev, build, bob, payload="{region: eu}")
    with pytest.raises(
        ValidationError, match=r"The payload is too large \(65\d\d\d bytes; at most 65536\)"
    ):
        deploy(component, dev, build, bob, payload={"blob": "x" * 65536})
    d = deploy(component, dev, build, bob, payload={"region": "us"})
    event = DeploymentEvent.objects.filter(outcome="ok").order_by("-id").first()
    assert 'payload {"limit": 100, "region": "eu"} → {"region": "us"}' in event.message
    assert deploy(component, dev, build, bob, payload=None).payload is None  # cleared


def test_promotion_carries_the_payload_and_the_diff_shows_it(
    component, dev, prod, build, alice, bob, ran, client_for
):
    d = deploy(component, dev, build, bob, payload={"region": "eu"})
    ran(d)
    c = client_for(alice)
    page_url = f"/p/{component.project.slug}/c/{component.name}/env/prod/promote/"
    html = c.get(page_url).content.decode()
    assert "Payload" in html and "{&quot;region&quot;: &quot;eu&quot;}" in html
    html = c.post(
        page_url,
        {"schedule": "0 2 * * *", "timezone": "UTC", "payload": '{"region": "us"}', "preview": "1"},
    ).content.decode()
    row = html[
        html.index("<th>Payload</th>") if "<th>Payload</th>" in html else html.index("Payload") :
    ]
    row = row[: row.index("</tr>")]
    assert (
        "{&quot;region&quot;: &quot;eu&quot;}" in row
        and "{&quot;region&quot;: &quot;us&quot;}" in row
    )
    p = deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    assert p.payload == {"region": "eu"}  # a first promotion takes the source's
    p = deployment_promote(
        component=component, source_env=dev, target_env=prod, actor=alice, payload='"only-prod"'
    )
    assert p.payload == "only-prod"
    deploy(component, dev, build, bob, payload={"region": "ap"})
    p = deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    assert p.payload == "only-prod"  # later promotions keep the target's own
