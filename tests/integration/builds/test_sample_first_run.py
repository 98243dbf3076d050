"""A newcomer's first run: a built-in sample, built with Docker and deployed to Development,
succeeds on its very first tick. A sample whose chorus.toml declares a required setting is
refused until it is set (the deploy form asks for it, offering the declared suggestion); with
the suggestion it runs on its bundled demo input. The others need no configuration at all and
their log says they used demo input."""

from __future__ import annotations

import pytest

from components.samples import SAMPLES
from deployments.models import Build, Environment, Execution

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# The line each sample logs when it runs on its demo input.
DEMO_NOTICE = {
    "session-timeout-logger": "Checked 3 sessions at ",
    "data-cleanup": "DATABASE_URL and CLEANUP_TABLE are not set: cleaning a demo SQLite database",
    "github-issues-summary": "GITHUB_REPOSITORY and CHAT_WEBHOOK_URL are not set",
    "health-check": "HEALTHCHECK_URL is not set: checking a demo endpoint",
}


def test_every_sample_is_covered():
    assert set(DEMO_NOTICE) == set(SAMPLES)


@pytest.mark.parametrize("key", sorted(DEMO_NOTICE))
def test_sample_deployed_without_configuration_succeeds_on_its_first_tick(
    key, base_images, build_settings, project, alice, run_build, django_capture_on_commit_callbacks
):
    from components.models import Component
    from deployments.deploy.services.contract import MissingConfig, declarations
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.executions.run import execution_run
    from deployments.executions.ticks import execution_tick
    from deployments.runtimes.docker.runtime import DockerRuntime

    sample = SAMPLES[key]
    component = Component.objects.create(
        project=project,
        name=key,
        source_kind=Component.SourceKind.SAMPLE,
        sample_key=key,
        preset=sample.preset,
        created_by=alice,
    )
    build = run_build(component)
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    dev = Environment.objects.get(slug="dev")
    assert not component.config_vars.exists(), "no configuration at all"
    required = {k: d.default for k, d in declarations(build).items() if d.required}
    assert build.manifest.get("config"), "every sample declares its settings"

    def deploy(**config):
        return deployment_deploy(
            component=component,
            environment=dev,
            build=build,
            schedule="* * * * *",
            timezone="UTC",
            actor=alice,
            config=config,
        )

    if required:
        # The deploy is refused, naming what is missing, and nothing is deployed.
        with pytest.raises(MissingConfig) as refused:
            deploy()
        assert refused.value.missing == list(required)
        assert not component.deployments.exists()
    deployment = deploy(**required)
    # The tick as beat sends it, then the run as the executions worker does it.
    with django_capture_on_commit_callbacks(execute=False):
        execution = execution_tick(deployment_id=deployment.pk)
    assert execution is not None and execution.attempt == 1
    execution_run(execution_id=execution.pk)

    execution.refresh_from_db()
    lines = list(execution.log_lines.order_by("seq").values_list("stream", "text"))
    assert execution.status == Execution.Status.SUCCEEDED, (execution.reason, lines[-8:])
    assert execution.exit_code == 0
    assert Execution.objects.filter(deployment=deployment).count() == 1
    assert any(text.startswith(DEMO_NOTICE[key]) for _, text in lines), lines
    assert not [text for stream, text in lines if stream == "stderr"], lines
    # It really ran in a container on the engine, which is gone again.
    assert execution.container_id
    assert DockerRuntime().find({"chorus.execution": str(execution.pk)}) == []
