"""The Python preset's generated Dockerfile, and what Chorus reads from any Dockerfile."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from deployments.builds.dockerfiles import declares_arg, env_vars, render_dockerfile, start_command
from deployments.runtimes.base import BuildError


def component(entry: str = ""):
    return SimpleNamespace(entry_command=entry, name="report", project=SimpleNamespace(slug="acme"))


def test_without_dependencies_there_is_no_pip_step(tmp_path, settings):
    settings.CHORUS_PYTHON_BASE_IMAGE = "chorus/python:3-debian"
    (tmp_path / "main.py").write_text("print('hi')\n")
    (tmp_path / "requirements.txt").write_text("# nothing yet\n\n")
    text = render_dockerfile(component("python3 main.py --daily"), tmp_path)
    assert "ARG BASE_IMAGE=chorus/python:3-debian\nFROM ${BASE_IMAGE}" in text
    assert "pip install" not in text, "an offline build must not need an index"
    assert 'CMD ["python3", "main.py", "--daily"]' in text
    assert "USER 65534:65534" in text


def test_requirements_are_installed_before_the_code_is_copied(tmp_path):
    (tmp_path / "requirements.txt").write_text("requests==2.32.3\n")
    text = render_dockerfile(component("python3 main.py"), tmp_path)
    pip = text.index("RUN python3 -m pip install --no-input -r requirements.txt")
    assert (
        text.index("COPY requirements.txt /app/requirements.txt") < pip < text.index("COPY . /app")
    )


def test_pyproject_dependencies_are_installed(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["httpx>=0.27", "rich"]\n'
    )
    text = render_dockerfile(component("python3 -m x"), tmp_path)
    run = next(line for line in text.splitlines() if line.startswith("RUN "))
    assert json.loads(run[4:]) == [
        "python3",
        "-m",
        "pip",
        "install",
        "--no-input",
        "httpx>=0.27",
        "rich",
    ]


def test_entry_falls_back_to_chorus_toml_then_main_py(tmp_path):
    (tmp_path / "chorus.toml").write_text('entry = "python3 job.py"\n')
    assert 'CMD ["python3", "job.py"]' in render_dockerfile(component(), tmp_path)
    (tmp_path / "chorus.toml").unlink()
    (tmp_path / "main.py").write_text("")
    assert 'CMD ["python3", "main.py"]' in render_dockerfile(component(), tmp_path)
    (tmp_path / "main.py").unlink()
    with pytest.raises(BuildError, match="needs an entry command"):
        render_dockerfile(component(), tmp_path)


def test_reading_dockerfiles():
    text = (
        "# syntax comment\nARG BASE_IMAGE=python:3.12-slim\nFROM ${BASE_IMAGE}\n"
        'ENV A=1 B="two words"\nRUN pip install \\\n    requests\n'
        'ENTRYPOINT ["python3"]\nCMD ["main.py"]\n'
    )
    assert declares_arg(text, "BASE_IMAGE")
    assert not declares_arg("FROM python:3.12-slim\n", "BASE_IMAGE")
    assert start_command(text) == ["python3", "main.py"]
    assert start_command("FROM x\nCMD python3 main.py\n") == ["/bin/sh", "-c", "python3 main.py"]
    assert env_vars(text) == {"A": "1", "B": "two words"}
