"""The python base image is bootstrapped from the machine's own Debian mirror."""

from __future__ import annotations

from deployments.builds.baseimages.python import DEFAULT_DEBIAN_MIRROR, debian_mirror


def test_mirror_comes_from_the_bookworm_stanza_of_deb822_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("CHORUS_DEBIAN_MIRROR", raising=False)
    (tmp_path / "debian.sources").write_text(
        "Types: deb\n"
        "URIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "\n"
        "Types: deb-src\n"
        "URIs: http://src.example/debian\n"
        "Suites: bookworm\n"
        "\n"
        "Types: deb\n"
        "# a comment between fields\n"
        "URIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    assert debian_mirror(tmp_path, tmp_path / "missing.list") == "http://mirror.example/debian"


def test_mirror_falls_back_to_one_line_sources_list(tmp_path, monkeypatch):
    monkeypatch.delenv("CHORUS_DEBIAN_MIRROR", raising=False)
    sources_list = tmp_path / "sources.list"
    sources_list.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://list.example/debian bookworm main\n"
    )
    assert debian_mirror(tmp_path / "none", sources_list) == "http://list.example/debian"


def test_mirror_defaults_and_can_be_overridden(tmp_path, monkeypatch):
    monkeypatch.delenv("CHORUS_DEBIAN_MIRROR", raising=False)
    assert debian_mirror(tmp_path, tmp_path / "none") == DEFAULT_DEBIAN_MIRROR
    monkeypatch.setenv("CHORUS_DEBIAN_MIRROR", "http://override.example/debian")
    assert debian_mirror(tmp_path, tmp_path / "none") == "http://override.example/debian"
