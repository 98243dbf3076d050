"""The one-line deployment summary other pages include, and its template filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string

from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.deploy.services.state import deployment_suspend

pytestmark = pytest.mark.django_db


def test_summary_shows_words_zone_and_next_run(component, dev, build, bob, monkeypatch):
    # next_runs reads the clock in deployments.schedules.preview: freeze it there.
    import deployments.schedules.preview as preview

    monkeypatch.setattr(preview, "_now", lambda: datetime(2026, 3, 28, 12, tzinfo=UTC))
    d = deployment_deploy(
        component=component,
        environment=dev,
        build=build,
        schedule="30 2 * * *",
        timezone="Europe/Berlin",
        actor=bob,
    )
    html = render_to_string("deployments/deploy/_summary.html", {"deployment": d})
    assert "At 02:30" in html and "(Europe/Berlin)" in html
    assert "next Sun 29 Mar 2026 03:00 CEST (01:00 UTC)" in html
    assert "02:30 does not exist on Sun 29 Mar 2026" in html
    deployment_suspend(deployment=d, actor=bob)
    html = render_to_string("deployments/deploy/_summary.html", {"deployment": d})
    assert "Suspended" in html and "next " not in html
    assert "not deployed" in render_to_string(
        "deployments/deploy/_summary.html", {"deployment": None}
    )
