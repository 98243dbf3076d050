"""chorus.toml is read once per build: the reason and line of a refusal are what users see."""

from __future__ import annotations

import pytest

from components.manifest import Manifest, ManifestError, parse_manifest, read_manifest


def test_entry_and_empty_sections_read():
    manifest = parse_manifest('entry = "python3 main.py"\n')
    assert manifest.entry == "python3 main.py"
    assert manifest.to_json() == {"entry": "python3 main.py"}
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_a_syntax_error_names_its_line():
    with pytest.raises(ManifestError) as caught:
        parse_manifest('entry = "python3 main.py"\n\nschedule = [unclosed\n')
    assert caught.value.line == 3
    assert str(caught.value).startswith("chorus.toml line 3: not valid TOML")


def test_an_unknown_top_level_key_is_refused_by_name_and_line():
    with pytest.raises(ManifestError) as caught:
        parse_manifest('entry = "python3 main.py"\nentyr = "typo"\n')
    assert caught.value.line == 2
    assert "unknown key “entyr”" in str(caught.value)


def test_an_unknown_table_is_refused_at_its_header():
    with pytest.raises(ManifestError) as caught:
        parse_manifest('entry = "x"\n\n[schedules]\ncron = "* * * * *"\n')
    assert caught.value.line == 3


def test_entry_must_be_text():
    with pytest.raises(ManifestError, match="“entry” must be a string") as caught:
        parse_manifest("entry = 5\n")
    assert caught.value.line == 1


def test_no_file_is_no_manifest_and_bytes_that_are_not_utf8_are_refused(tmp_path):
    assert read_manifest(tmp_path) is None
    (tmp_path / "chorus.toml").write_bytes(b'entry = "\xff"\n')
    with pytest.raises(ManifestError, match="not UTF-8"):
        read_manifest(tmp_path)
