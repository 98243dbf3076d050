"""The executions fixtures (component, builds, deployments) shared with the unit tests."""

from __future__ import annotations

from tests.unit.executions.conftest import (  # noqa: F401
    build,
    component,
    deploy,
    dev,
    make_build,
    make_component,
    prod,
    tick,
)
