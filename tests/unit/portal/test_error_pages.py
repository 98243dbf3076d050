from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_unknown_url_gives_friendly_404(client_for, alice):
    r = client_for(alice).get("/no/such/page/")
    assert r.status_code == 404
    assert b"Page not found" in r.content
    assert b"Back to your projects" in r.content


def test_bad_login_gives_clear_message(client, alice):
    r = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert r.status_code == 200
    assert b"did not match" in r.content


def test_good_login_redirects_home(client, alice, password):
    r = client.post("/login/", {"username": "alice", "password": password})
    assert r.status_code == 302 and r["Location"] == "/"


def test_csrf_failure_gives_friendly_page(alice, password):
    c = Client(enforce_csrf_checks=True)
    r = c.post("/login/", {"username": "alice", "password": password})
    assert r.status_code == 403
    assert b"This form has expired" in r.content


@override_settings(DEBUG=False)
def test_server_error_page_is_friendly(alice):
    from django.test import RequestFactory

    from portal.views import error_500

    r = error_500(RequestFactory().get("/"))
    assert r.status_code == 500 and b"Something went wrong" in r.content


def test_healthz(client):
    r = client.get("/healthz")
    assert r.json() == {"status": "ok"}
