"""The installation id that scopes every container Chorus starts (deployments/installation.py)."""

from __future__ import annotations

import pytest
from django.db import connections

from deployments.executions.run import labels_for
from deployments.installation import LABEL, installation_id

pytestmark = pytest.mark.django_db


def test_every_task_is_labelled_with_this_installation(deploy, tick):
    e = tick(deploy())
    assert labels_for(e)[LABEL] == installation_id()


def test_the_id_is_stable_and_differs_per_database_and_secret_key(settings, monkeypatch):
    first = installation_id()
    assert installation_id() == first and len(first) == 16
    settings.SECRET_KEY = "another-secret"
    other_key = installation_id()
    assert other_key != first
    db = dict(connections["default"].settings_dict, NAME="another_database")
    monkeypatch.setattr(connections["default"], "settings_dict", db)
    assert installation_id() not in (first, other_key)


def test_an_explicit_installation_wins(settings):
    settings.CHORUS_INSTALLATION = "portal-eu-1"
    assert installation_id() == "portal-eu-1"
