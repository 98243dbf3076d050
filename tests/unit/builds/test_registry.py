"""The registry client's names and addresses (its HTTP side runs against a real registry in
tests/integration/registry/)."""

from __future__ import annotations

import pytest

from deployments.registry import Registry, is_registry_ref, registry_for_ref

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (f"127.0.0.1:5001/chorus/payments/nightly@{DIGEST}", True),
        (f"registry.example.com/p/c@{DIGEST}", True),
        ("chorus/payments/nightly:abc123", False),  # a tag moves: never a registry image
        (DIGEST, False),  # an engine's image id
        (f"127.0.0.1:5001/p/c@sha256:{'a' * 12}", False),
    ],
)
def test_only_a_repository_at_a_full_digest_is_a_registry_image(ref, expected):
    assert is_registry_ref(ref) is expected


def test_repositories_are_named_by_project_and_component():
    registry = Registry(location="registry.example.com/chorus/")
    assert (
        registry.repository(project="Payments Team", component="Nightly_Report")
        == "registry.example.com/chorus/payments-team/nightly_report"
    )


@pytest.mark.parametrize(
    ("location", "insecure", "scheme"),
    [
        ("127.0.0.1:5001/chorus", None, "http"),
        ("localhost:5000", None, "http"),
        ("registry.example.com/chorus", None, "https"),
        ("registry.internal:5000", True, "http"),
        ("127.0.0.1:5001", False, "https"),
    ],
)
def test_plain_http_only_for_loopback_unless_told(location, insecure, scheme):
    assert Registry(location=location, insecure=insecure).scheme == scheme


def test_a_reference_from_another_registry_is_not_checked_with_these_credentials(settings):
    settings.CHORUS_REGISTRY = "registry.example.com/chorus"
    settings.CHORUS_REGISTRY_USERNAME = "chorus"
    settings.CHORUS_REGISTRY_PASSWORD = "secret"
    mine = registry_for_ref(f"registry.example.com/chorus/p/c@{DIGEST}")
    assert mine is not None and mine.auth_config() == {"username": "chorus", "password": "secret"}
    assert registry_for_ref(f"elsewhere.example.com/p/c@{DIGEST}") is None
    settings.CHORUS_REGISTRY = ""
    assert registry_for_ref(f"registry.example.com/chorus/p/c@{DIGEST}") is None
