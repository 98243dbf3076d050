"""Task containers on the real engine: no root, their own network, no host ports, and
builds held to limits. Images are built from real repositories and run by the worker side
of a real execution (deploy, tick, run)."""

from __future__ import annotations

import resource
import uuid

import pytest
from django.core.exceptions import PermissionDenied

from components.services import component_update
from deployments.models import Build, Environment
from deployments.runtimes.base import Limits
from deployments.runtimes.docker.network import ensure_network
from deployments.runtimes.docker.runtime import DockerRuntime
from tests.support.builds import BUSYBOX_BASE, docker_client, host_address_for_containers
from tests.support.tcp import counting_server
from tests.unit.executions.conftest import log_text, run, tick  # noqa: F401

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

NETWORK = "chorus-tasks"


@pytest.fixture
def docker_dev(build_settings, base_images):
    Environment.objects.filter(slug="dev").update(runtime_kind="docker", docker_network="")
    return Environment.objects.get(slug="dev")


def dockerfile(script: str) -> dict[str, str]:
    return {"Dockerfile": f'FROM {BUSYBOX_BASE}\nCMD ["/bin/busybox", "sh", "-c", "{script}"]\n'}


@pytest.fixture
def run_task(docker_dev, tick, run):  # noqa: F811 - fixtures imported above
    """Deploy `build` to Development, let a tick fire and the worker run it: its log."""
    from deployments.deploy.services.lifecycle import deployment_deploy

    def do(build, environment=None, seconds_ago: int = 0) -> str:
        deployment = deployment_deploy(
            component=build.component,
            environment=environment or docker_dev,
            build=build,
            schedule="@every 1h",
            timezone="UTC",
            actor=None,
        )
        execution = run(tick(deployment, seconds_ago=seconds_ago))
        return log_text(execution)

    return do


def test_a_task_runs_as_nobody_unless_an_owner_allows_root(
    docker_dev, repo, make_component, run_build, run_task, alice, bob
):
    repo.commit(dockerfile("id -u; touch /pwned 2>/dev/null && echo wrote-root-fs || echo refused"))
    component = make_component(repo, "rooty", preset="dockerfile")
    build = run_build(component)
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]

    text = run_task(build)
    assert "\n65534\n" in f"\n{text}\n" and "refused" in text and "wrote-root-fs" not in text

    with pytest.raises(PermissionDenied):
        component_update(component=component, actor=bob, run_as_root=True)  # a developer
    component.refresh_from_db()
    assert component.run_as_root is False

    component_update(component=component, actor=alice, run_as_root=True)  # the owner
    text = run_task(build, seconds_ago=5)  # another tick
    assert "\n0\n" in f"\n{text}\n" and "wrote-root-fs" in text


def network_gateway(network: str) -> str:
    """The host's address on `network`: where a container on it would reach the host."""
    client = docker_client()
    try:
        return host_address_for_containers(client, network)
    finally:
        client.close()


@pytest.fixture
def host_server():
    """A TCP server on every host address; counts the connections it accepts."""
    with counting_server("0.0.0.0") as served:
        yield served


def test_a_task_cannot_reach_the_hosts_ports_or_other_containers(
    docker_dev, repo, make_component, run_build, run_task, host_server
):
    port, accepted = host_server
    probe = "echo | nc -w 1 $TARGET >/dev/null && echo reached || echo unreachable"
    repo.commit(dockerfile(probe))
    build = run_build(make_component(repo, "probe", preset="dockerfile"))
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]

    # Control: on Docker's default bridge (where an admin may put an environment) the host's
    # port answers, so "unreachable" below is the network's doing, not the probe's.
    out: list[str] = []

    def probe_from(runtime, target: str) -> list[str]:
        out.clear()
        result = runtime.run(
            image=build.image_ref,
            env={"TARGET": target},
            limits=Limits(),
            timeout=30,
            log=lambda line, stream: out.append(line) if stream == "stdout" else None,
        )
        assert result.exit_code == 0, out
        return list(out)

    assert probe_from(DockerRuntime(network="bridge"), f"{network_gateway('bridge')} {port}") == [
        "reached"
    ]
    assert len(accepted) == 1

    # The runtime a Development execution gets: Chorus's own network, created if missing.
    # (Not through an execution here: a task on a shared engine that outlives other test
    # runs' reconcilers is removed by them as an orphan.)
    runtime = DockerRuntime.for_environment(docker_dev)
    client = docker_client()
    try:
        options = client.networks.get(NETWORK).attrs["Options"]
        assert options["com.docker.network.bridge.enable_icc"] == "false"
        # A neighbour on the same network, serving HTTP.
        neighbour = client.containers.run(
            BUSYBOX_BASE,
            ["/bin/busybox", "httpd", "-f", "-p", "8080"],
            network=NETWORK,
            detach=True,
            labels={"org.chorus.test": "neighbour"},
        )
        try:
            neighbour.reload()
            neighbour_ip = neighbour.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
            targets = {
                "host on the task network's gateway": f"{network_gateway(NETWORK)} {port}",
                "host on the default bridge's gateway": f"{network_gateway('bridge')} {port}",
                "another task container": f"{neighbour_ip} 8080",
            }
            for what, target in targets.items():
                assert probe_from(runtime, target) == ["unreachable"], what
        finally:
            neighbour.remove(force=True)
    finally:
        client.close()
    assert len(accepted) == 1


def test_a_build_is_held_to_its_memory_and_cpu_limits(
    docker_dev, build_settings, repo, make_component, run_build
):
    build_settings.CHORUS_BUILD_MEMORY_MB = 128
    build_settings.CHORUS_BUILD_CPUS = 1
    repo.commit(
        {
            "Dockerfile": f"FROM {BUSYBOX_BASE}\n"
            f'RUN ["/bin/busybox", "sh", "-c", "echo {uuid.uuid4().hex} cpus=$(nproc)"]\n'
            # sort holds its whole input: 400 MB in one line.
            'RUN ["/bin/busybox", "sh", "-c", "head -c 400m /dev/zero | sort >/dev/null"]\n'
            'CMD ["/bin/busybox", "true"]\n'
        }
    )
    build = run_build(make_component(repo, "greedy", preset="dockerfile"))

    lines = log_lines(build)
    assert any(line.endswith(" cpus=1") for line in lines)
    assert build.status == Build.Status.FAILED
    assert "returned a non-zero code: 137" in build.error  # killed by the memory limit


def test_a_task_line_of_gigabytes_is_cut_and_the_worker_does_not_grow(
    docker_dev, repo, make_component, run_build
):
    repo.commit(dockerfile("head -c 300000000 /dev/zero | tr -c x x; echo; echo after"))
    build = run_build(make_component(repo, "chatty", preset="dockerfile"))
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: list[str] = []
    result = DockerRuntime.for_environment(docker_dev).run(
        image=build.image_ref,
        env={},
        limits=Limits(),
        timeout=120,
        log=lambda line, s: out.append(line),
    )
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024

    assert result.exit_code == 0, out[-3:]
    assert out == ["x" * 8000 + " …[line cut by Chorus: longer than 8000 bytes]", "after"]
    assert grown_mb < 100, f"the worker grew by {grown_mb:.0f} MB reading a 300 MB line"


@pytest.mark.parametrize("network, expected", [("bridge", "reached"), ("", "unreachable")])
def test_a_build_step_cannot_reach_the_hosts_ports(
    docker_dev, repo, make_component, run_build, host_server, network, expected
):
    # "bridge" (an environment an administrator put on Docker's default network) is the
    # control: the same step reaches the host there.
    Environment.objects.filter(slug="dev").update(docker_network=network)
    port, accepted = host_server
    client = docker_client()
    try:
        ensure_network(client.api, NETWORK, where="test")  # made on first use otherwise
    finally:
        client.close()
    host = network_gateway(network or NETWORK)
    step = f"echo {uuid.uuid4().hex}; echo | nc -w 1 {host} {port} >/dev/null 2>&1 && echo reached || echo unreachable"
    repo.commit(
        {
            "Dockerfile": f"FROM {BUSYBOX_BASE}\n"
            f'RUN ["/bin/busybox", "sh", "-c", "{step}"]\n'
            'CMD ["/bin/busybox", "true"]\n'
        }
    )
    build = run_build(make_component(repo, "builder", preset="dockerfile"))

    lines = log_lines(build)
    assert build.status == Build.Status.SUCCEEDED, lines[-5:]
    assert expected in lines, "\n".join(lines)
    assert len(accepted) == (1 if expected == "reached" else 0)


def test_a_task_network_that_lets_containers_talk_is_refused(docker_dev, build_settings):
    name = f"chorus-icc-{uuid.uuid4().hex[:8]}"
    build_settings.CHORUS_DOCKER_NETWORK = name
    client = docker_client()
    network = client.networks.create(name, driver="bridge")  # ICC on: Docker's default
    try:
        result = DockerRuntime.for_environment(docker_dev).run(
            image=BUSYBOX_BASE,
            env={},
            limits=Limits(),
            timeout=30,
            log=lambda *a: None,
            command=["/bin/busybox", "echo", "ran"],
        )
        assert result.exit_code is None
        assert result.error.startswith(f"The Docker network “{name}” lets containers reach")
        network.reload()
        assert not network.attrs.get("Containers")
    finally:
        network.remove()
        client.close()
