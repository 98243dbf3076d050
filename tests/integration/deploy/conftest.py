"""The deploy fixtures (component, builds, environments, `ran`) shared with the unit tests."""

from __future__ import annotations

from tests.unit.deploy.conftest import build, component, dev, make_build, prod, ran  # noqa: F401
