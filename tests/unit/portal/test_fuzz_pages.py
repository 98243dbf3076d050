"""Fuzzed pages: every HTML route of the URL configuration, as the owner, with every query
parameter the pages read fed out-of-range numbers, huge ids, NUL bytes, bytes that are not
UTF-8 and long text, plainly and as htmx fragments; and every path parameter replaced by a
huge id or odd text. None may answer 5xx; NUL bytes and non-UTF-8 bytes answer 400 with a
page that says why."""

from __future__ import annotations

import pytest

from tests.support.routes import all_routes, build_world

pytestmark = pytest.mark.django_db

# Every query parameter a page reads (request.GET in the views and their selectors).
QUERY_NAMES = [
    "after", "before", "page", "events_page", "fragment", "schedule", "timezone", "status",
    "from", "to", "env", "range", "next", "trigger", "component", "q", "limit",
]  # fmt: skip
NASTY = {
    "overflow": "-5.4e295",
    "negative": "-465",
    "huge_id": "99999999999999999999999",
    "nan": "nan",
    "long": "x" * 3000,
    "odd": "%3Cscript%3E%27%22",
    "nul": "a%00b",
    "not_utf8": "%FF%FE",
}
REFUSED = {"nul": "contains a NUL byte", "not_utf8": "is not UTF-8 text"}


@pytest.fixture
def world(alice, dave, project):
    return build_world(owner=alice, outsider=dave, project=project)


def _pages():
    return [r for r in all_routes() if not r.is_api and r.name not in ("logout",)]


def test_no_page_answers_5xx_to_any_query_string(client_for, alice, world):
    client = client_for(alice)
    pages = _pages()
    assert len(pages) > 40
    for route in pages:
        url = route.url(world)
        for label, raw in NASTY.items():
            query = "&".join(f"{name}={raw}" for name in QUERY_NAMES)
            for headers in ({}, {"HX-Request": "true"}):
                r = client.get(f"{url}?{query}", headers=headers)
                where = (route.name, label, headers, r.status_code)
                assert r.status_code < 500, where
                if label in REFUSED:
                    assert r.status_code == 400, where
                    assert REFUSED[label] in r.content.decode(), where
        for fragment in ("recent", "page", "executions", "rows"):
            r = client.get(f"{url}?fragment={fragment}&page=-3&after=-1", HTTP_HX_REQUEST="true")
            assert r.status_code < 500, (route.name, fragment, r.status_code)


def test_no_page_answers_5xx_to_odd_path_parameters(client_for, alice, world):
    client = client_for(alice)
    odd = ["99999999999999999999999", "9223372036854775808", "x" * 300, "-1", "%C3%A9"]
    for route in _pages():
        for param in route.params:
            for value in odd:
                url = route.url({**world, param: value})
                for method in (client.get, client.post):
                    r = method(url)
                    assert r.status_code < 500, (route.name, param, value, r.status_code)


def test_a_nul_byte_in_the_address_is_a_400_that_says_why(client_for, alice, world):
    r = client_for(alice).get("/p/payments%00/")
    assert r.status_code == 400
    assert "The address contains a NUL byte." in r.content.decode()
    r = client_for(alice).get("/api/v1/projects/payments/?x=%FF")
    assert r.status_code == 400
    assert r.json() == {
        "error": {"code": "invalid", "message": "The query string is not UTF-8 text."}
    }
