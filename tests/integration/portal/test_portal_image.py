"""The Chorus image (Dockerfile) serves its own static files with DEBUG off: built from a fresh
clone on the offline Python base, started like docker-compose's web service (production,
gunicorn), every stylesheet and script of the login page answers 200 with its content type."""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from cryptography.fernet import Fernet

from tests.support.builds import (
    PYTHON_BASE,
    docker_client,
    ensure_base_images,
    host_address_for_containers,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CONTENT_TYPES = {"css": "text/css", "js": "text/javascript"}


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def wheelhouse(tmp_path):
    """The clone's dependencies as wheels (made here, with this machine's pip cache and trust),
    served over HTTP to the image build: the build needs no route to an index of its own."""

    def serve(clone):
        wheels = tmp_path / "wheels"
        # Debian's Python in the base may be older than the suite's: redis then also needs
        # async-timeout (a dependency only below Python 3.11.3), so it is made too.
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels)]
            + ["setuptools>=68", "wheel", "async-timeout>=4.0.3", str(clone)],
            check=True,
        )
        handler = functools.partial(QuietFiles, directory=str(wheels))
        server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    servers: list = []
    yield serve
    for server in servers:
        server.shutdown()


def test_portal_image_serves_hashed_static_files_with_debug_off(tmp_path, wheelhouse):
    from tests.support.makerun import ROOT

    ensure_base_images()
    clone = tmp_path / "chorus"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = wheelhouse(clone)
    tag = f"chorus/portal-test:{uuid.uuid4().hex[:12]}"
    client = docker_client()
    host = host_address_for_containers(client)
    container = None
    try:
        output: list[str] = []
        for chunk in client.api.build(
            path=str(clone),
            tag=tag,
            buildargs={
                "BASE_IMAGE": PYTHON_BASE,
                "PIP_NO_INDEX": "1",
                "PIP_FIND_LINKS": f"http://{host}:{port}/",
                "PIP_TRUSTED_HOST": host,
            },
            rm=True,
            pull=False,
            decode=True,
        ):
            output.append(str(chunk.get("stream") or chunk.get("error") or ""))
            assert "error" not in chunk, "".join(output)[-4000:]
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
                "CHORUS_ENCRYPTION_KEY": Fernet.generate_key().decode(),
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
