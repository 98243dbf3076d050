"""A build reads chorus.toml at its commit: a syntax error fails it with the file's line, before
anything is built or deployed."""

from __future__ import annotations

import pytest

from deployments.models import Build

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_a_chorus_toml_syntax_error_fails_the_build_with_its_line(
    build_settings, repo, make_component, run_build
):
    repo.commit(
        {
            "Dockerfile": "FROM chorus/busybox:latest\n",
            "chorus.toml": '[environments.dev]\nschedule = "@every 2s"\ntimeout = [30\n',
        }
    )
    build = run_build(make_component(repo, "broken-toml", preset="dockerfile"))
    assert build.status == Build.Status.FAILED
    assert build.error.startswith("chorus.toml line 3: not valid TOML"), build.error
    assert "Fix the file and push again; nothing deployed changed." in build.error
    lines = log_lines(build)
    assert lines[-1].startswith("Build failed: chorus.toml line 3: not valid TOML")
    # Refused before the image build: the engine never saw this commit.
    assert not build.image_ref and not build.image_digest
    assert not any("Step 1" in line or "FROM chorus/busybox" in line for line in lines)
