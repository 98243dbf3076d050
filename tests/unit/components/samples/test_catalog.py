from __future__ import annotations

import ast
import dataclasses
import re
import sys
import tomllib

import pytest

from components.samples import SAMPLES, get_sample

from ._support import SAMPLES_DIR

EXPECTED = {
    "health-check": "dockerfile",
    "github-issues-summary": "python",
    "session-timeout-logger": "python",
    "data-cleanup": "python",
}


def test_catalog_lists_the_four_built_in_samples_with_their_presets():
    assert {key: sample.preset for key, sample in SAMPLES.items()} == EXPECTED
    for key, sample in SAMPLES.items():
        assert sample.key == key
        assert sample.title and sample.description
        assert sample.path == SAMPLES_DIR / key
        assert sample.path.is_dir()


def test_get_sample_returns_the_sample_and_rejects_unknown_keys():
    assert get_sample("data-cleanup") is SAMPLES["data-cleanup"]
    with pytest.raises(KeyError, match="unknown sample 'cron-job'"):
        get_sample("cron-job")


def test_samples_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SAMPLES["health-check"].entry = "python3 evil.py"  # type: ignore[misc]


@pytest.mark.parametrize("key", EXPECTED)
def test_every_sample_has_a_readme_documenting_each_setting_it_reads(key):
    sample = SAMPLES[key]
    readme = (sample.path / "README.md").read_text()
    code = (sample.path / "main.py").read_text()
    settings = set(re.findall(r'"([A-Z][A-Z0-9]*_[A-Z0-9_]+)"', code))

    assert readme.startswith("# ")
    assert settings, "the sample reads no settings from the environment"
    assert {"CHORUS_EXECUTION_ID", "CHORUS_ATTEMPT", "CHORUS_SCHEDULED_AT"} <= settings
    undocumented = sorted(name for name in settings if f"`{name}`" not in readme)
    assert undocumented == []


def test_dockerfile_sample_takes_its_base_image_as_a_build_arg():
    sample = SAMPLES["health-check"]
    lines = (sample.path / "Dockerfile").read_text().splitlines()

    assert sample.entry is None
    assert lines[0] == "ARG BASE_IMAGE=python:3.12-slim"
    assert lines[1] == "FROM ${BASE_IMAGE}"
    # Offline base images only have python3, not python.
    assert 'CMD ["python3", "main.py"]' in lines


@pytest.mark.parametrize("key", [key for key, preset in EXPECTED.items() if preset == "python"])
def test_python_samples_declare_an_entry_and_need_no_packages_to_build(key):
    sample = SAMPLES[key]
    declared = tomllib.loads((sample.path / "chorus.toml").read_text())
    requirements = (sample.path / "requirements.txt").read_text().splitlines()

    assert declared["entry"] == sample.entry == "python3 main.py"
    assert not (sample.path / "Dockerfile").exists()
    assert [line for line in requirements if line.strip() and not line.startswith("#")] == []


@pytest.mark.parametrize("key", EXPECTED)
def test_sample_code_imports_only_the_standard_library_at_module_level(key):
    tree = ast.parse((SAMPLES[key].path / "main.py").read_text())
    modules = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])

    assert modules - set(sys.stdlib_module_names) == set()
