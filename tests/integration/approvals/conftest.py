"""The approval fixtures of the unit tests, against the same real PostgreSQL."""

from __future__ import annotations

from tests.unit.approvals.conftest import approvals_on, in_dev, request_promote  # noqa: F401
from tests.unit.deploy.conftest import build, component, dev, make_build, prod, ran  # noqa: F401
