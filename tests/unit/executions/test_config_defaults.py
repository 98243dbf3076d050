"""Defaults a build's chorus.toml declares reach the run's environment unless the environment
sets the key; a re-run of an earlier build's run gets that build's defaults."""

from __future__ import annotations

import pytest

from components.manifest import parse_manifest
from deployments.deploy.services.config import config_set
from deployments.executions.actions import execution_rerun

from .test_run import env_of

pytestmark = pytest.mark.django_db


def manifest(timeout: int) -> dict:
    return parse_manifest(
        f'[config.TIMEOUT_MINUTES]\ntype = "int"\ndefault = {timeout}\n\n'
        '[config.MODE]\ndefault = "delete"\n'
    ).to_json()


def test_declared_defaults_reach_the_run_unless_set(deploy, make_build, tick, run, bob):
    d = deploy(config={"RECORD_PRINT_ENV": "1"}, build=make_build(manifest=manifest(30)))
    first = run(tick(d, seconds_ago=20))
    assert first.status == "succeeded"
    env = env_of(first)
    assert env["TIMEOUT_MINUTES"] == "30" and env["MODE"] == "delete"

    config_set(
        component=d.component, environment=d.environment, key="MODE", value="archive",
        is_secret=False, actor=bob,
    )  # fmt: skip
    env = env_of(run(tick(d, seconds_ago=10)))
    assert env["MODE"] == "archive" and env["TIMEOUT_MINUTES"] == "30"

    # A new build declaring another default: new runs get it, a re-run of the first run
    # runs the first build with the defaults that build declared.
    d = deploy(config={"RECORD_PRINT_ENV": "1"}, build=make_build(manifest=manifest(5)))
    assert env_of(run(tick(d, seconds_ago=5)))["TIMEOUT_MINUTES"] == "5"
    again = run(execution_rerun(execution=first, actor=bob))
    assert again.build_id == first.build_id
    assert env_of(again)["TIMEOUT_MINUTES"] == "30"
