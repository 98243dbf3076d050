"""The Chorus image (Dockerfile) serves its own static files with DEBUG off: built from a fresh
clone on the offline Python base, started like docker-compose's web service (production,
gunicorn), every stylesheet and script of the login page answers 200 with its content type."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import pytest
import requests

from tests.support.builds import PYTHON_BASE, docker_client, ensure_base_images

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CONTENT_TYPES = {"css": "text/css", "js": "text/javascript"}


def test_portal_image_serves_hashed_static_files_with_debug_off(tmp_path):
    from tests.support.makerun import ROOT

    ensure_base_images()
    clone = tmp_path / "chorus"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    tag = f"chorus/portal-test:{uuid.uuid4().hex[:12]}"
    client = docker_client()
    container = None
    try:
        client.images.build(
            path=str(clone), tag=tag, buildargs={"BASE_IMAGE": PYTHON_BASE}, rm=True, pull=False
        )
        container = client.containers.run(
            tag,
            # docker-compose's web service, on SQLite instead of its PostgreSQL service.
            command=[
                "sh",
                "-c",
                "python manage.py migrate --noinput -v0 && "
                "gunicorn portal.wsgi:application --bind 0.0.0.0:8000 --workers 2",
            ],
            environment={
                "CHORUS_ENV": "production",
                "SECRET_KEY": "image-test-secret-key-" + uuid.uuid4().hex,
                "CHORUS_ENCRYPTION_KEY": "mGCZa5kgI4Gx0dT6y7YkLqCqzJbqv8ZB3LxWkYxQ0qk=",
                "ALLOWED_HOSTS": "*",
            },
            labels={"org.chorus.test": "portal-image"},
            detach=True,
        )
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        base = f"http://{address}:8000"
        deadline = time.monotonic() + 90
        while True:
            try:
                login = requests.get(f"{base}/login/", timeout=5)
                break
            except requests.ConnectionError:
                container.reload()
                assert container.status == "running", container.logs().decode()[-3000:]
                assert time.monotonic() < deadline, container.logs().decode()[-3000:]
                time.sleep(1)
        assert login.status_code == 200 and "Log in to Chorus" in login.text

        assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(css|js))"', login.text)
        assert {kind for _, kind in assets} == {"css", "js"}, assets
        for path, kind in assets:
            assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", path), f"{path} is not hashed"
            resp = requests.get(base + path, headers={"Accept-Encoding": "gzip"}, timeout=10)
            assert resp.status_code == 200, path
            assert resp.headers["Content-Type"].startswith(CONTENT_TYPES[kind]), path
            assert resp.headers.get("Content-Encoding") == "gzip", f"{path} not compressed"
            assert "max-age=315360000" in resp.headers.get("Cache-Control", ""), path
    finally:
        if container is not None:
            container.remove(force=True)
        try:
            client.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - the build may have failed before tagging
            pass
        client.close()
