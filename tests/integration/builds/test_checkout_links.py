"""A repository's symbolic links never make Chorus write or read outside the checkout.

git checks out links as links. A Dockerfile linking to a worker's file would have the Python
preset overwrite that file with the generated Dockerfile, and a requirements.txt linking to
one would have it read into the build log. Real repositories, real builds, both runtimes.
"""

from __future__ import annotations

import pytest

from deployments.models import Build, Environment
from deployments.runtimes import get_runtime
from deployments.runtimes.base import Limits
from tests.support.gitrepos import Symlink

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TARGET_TEXT = "the worker's own file: never to be overwritten\n"


@pytest.fixture(params=["docker", "local"])
def runtime_kind(request, build_settings):
    Environment.objects.filter(slug="dev").update(runtime_kind=request.param)
    if request.param == "docker":
        request.getfixturevalue("base_images")
    return request.param


@pytest.mark.parametrize(
    "link, preset",
    [("Dockerfile", "python"), ("Dockerfile", "dockerfile"), ("requirements.txt", "python")],
)
def test_a_link_out_of_the_checkout_fails_the_build_and_leaves_its_target_untouched(
    runtime_kind, tmp_path, repo, make_component, run_build, link, preset
):
    outside = tmp_path / "outside" / "target.txt"
    outside.parent.mkdir()
    outside.write_text(TARGET_TEXT)
    files = {
        "main.py": "print('hi')\n",
        "Dockerfile": 'FROM scratch\nCMD ["python3", "main.py"]\n',
        link: Symlink(str(outside)),
    }
    repo.commit(files)
    component = make_component(repo, "linked", preset=preset, entry="python3 main.py")

    build = run_build(component)

    lines = log_lines(build)
    assert build.status == Build.Status.FAILED
    assert build.error == (
        f"“{link}” is a symbolic link to “{outside}”, outside the repository: Chorus never "
        "follows a link out of a checkout. Commit the file itself (or a link to a file "
        "inside the repository)."
    )
    assert lines[-1] == f"Build failed: {build.error}"
    assert outside.read_text() == TARGET_TEXT
    assert not any("never to be overwritten" in line for line in lines)
    assert not build.image_ref


def test_a_dangling_link_out_is_refused_and_nothing_is_created(
    runtime_kind, tmp_path, repo, make_component, run_build
):
    outside = tmp_path / "outside" / "created-by-a-build"
    outside.parent.mkdir()
    repo.commit({"main.py": "print('hi')\n", "Dockerfile": Symlink(str(outside))})

    build = run_build(make_component(repo, "dangling", preset="python", entry="python3 main.py"))

    assert build.status == Build.Status.FAILED
    assert "outside the repository" in build.error
    assert not outside.exists()


def test_a_link_inside_the_checkout_still_builds(build_settings, repo, make_component, run_build):
    Environment.objects.filter(slug="dev").update(runtime_kind="local")
    repo.commit(
        {
            "tasks/job/main.py": "print('from a linked entry file')\n",
            "tasks/job/run.py": Symlink("main.py"),
            "tasks/job/Dockerfile": Symlink("../../Dockerfile.shared"),
            "Dockerfile.shared": 'FROM scratch\nCMD ["python3", "run.py"]\n',
        }
    )
    build = run_build(
        make_component(repo, "inside", preset="python", path="tasks/job", entry="python3 run.py")
    )
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    out = []
    result = get_runtime(Environment.objects.get(slug="dev")).run(
        image=build.image_ref,
        env={},
        limits=Limits(),
        timeout=30,
        log=lambda line, s: out.append(line),
    )
    assert result.exit_code == 0 and out == ["from a linked entry file"]
