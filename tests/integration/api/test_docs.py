"""/api/docs/ works in a browser-less check against a live server: the Swagger UI page and
every asset it loads come from this server (drf-spectacular-sidecar), never a CDN."""

from __future__ import annotations

import re

import pytest
import requests

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_swagger_ui_and_its_assets_are_served_locally(live_server):
    r = requests.get(f"{live_server.url}/api/docs/", timeout=10)
    assert r.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    scripts = [a for a in assets if a.endswith(".js")]
    assert any("swagger-ui-bundle.js" in a for a in scripts), assets
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by Chorus"
        got = requests.get(live_server.url + asset, timeout=10)
        assert got.status_code == 200, asset
        assert len(got.content) > 100
    schema = requests.get(f"{live_server.url}/api/schema/?format=json", timeout=10)
    assert schema.status_code == 200
    assert "/api/v1/projects/" in schema.json()["paths"]
