"""The fault matrix runs once for the whole package (scenario.py); each test module checks
one row of the matrix (docs/reliability.md) against its snapshot."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def matrix(django_db_setup, django_db_blocker, tmp_path_factory):
    from .scenario import run

    with django_db_blocker.unblock():
        return run(tmp_path_factory.mktemp("faults"))
