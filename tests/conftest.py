"""Shared fixtures: the owner / developer / viewer / outsider matrix, service checks, browser.

With CHORUS_REQUIRE_SERVICES=1 (set by `make test`, so always in CI) the suite refuses to run
unless the database is PostgreSQL and Redis answers: a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to be called
# from a thread with a running loop unless told this is fine (it is: tests are synchronous).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def pytest_configure(config):
    from django.conf import settings

    # Hashing passwords the production way costs ~0.3 s a user; tests need no such strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The live server serves static files from their folders by their plain names; the hashed,
    # compressed copies of production need `collectstatic`, which the `make run` tests exercise.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def pytest_sessionstart(session):
    if os.environ.get("CHORUS_REQUIRE_SERVICES") != "1" and os.environ.get("CI") != "true":
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(f"CI runs the suite against PostgreSQL; DATABASE_URL gives {engine}", 2)
    import redis

    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.exit("REDIS_URL is not set: Redis is required", 2)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the service is missing
        pytest.exit(f"Redis at {url} does not answer: {exc}", 2)


_DB_FIXTURES = {"db", "transactional_db", "live_server"}


@pytest.fixture(autouse=True)
def _default_environments(request):
    """Development and Production exist in every database-using test.

    A data migration creates them, but transactional tests (live_server, real worker processes)
    flush every table after each test, so they are put back before each test that uses the DB.
    """
    if request.node.get_closest_marker("django_db") is None and not (
        _DB_FIXTURES & set(request.fixturenames)
    ):
        return
    request.getfixturevalue("django_db_setup")
    blocker = request.getfixturevalue("django_db_blocker")
    import importlib

    from django.apps import apps

    # The data migration's own function, so tests get exactly what an installation gets.
    migration = importlib.import_module("deployments.migrations.0002_default_environments")
    with blocker.unblock():
        migration.create_defaults(apps, None)
    # A rolled-back test's environment change sends no signal: forget what workers cached.
    from deployments.executions.prepare import environment_cache_clear

    environment_cache_clear()


@pytest.fixture
def password() -> str:
    return "correct-horse-battery"


@pytest.fixture
def make_user(django_user_model, password):
    def make(username: str, **extra):
        return django_user_model.objects.create_user(
            username=username, password=password, email=f"{username}@example.com", **extra
        )

    return make


@pytest.fixture
def alice(make_user):
    """Project owner."""
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    """Developer in alice's project."""
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    """Viewer in alice's project."""
    return make_user("carol")


@pytest.fixture
def dave(make_user):
    """Outsider: not a member of alice's project."""
    return make_user("dave")


@pytest.fixture
def project(alice, bob, carol, dave):
    from portal.models import Membership
    from portal.roles import Role
    from portal.services import project_create

    p = project_create(name="Payments", description="Nightly jobs", actor=alice)
    Membership.objects.create(project=p, user=bob, role=Role.DEVELOPER)
    Membership.objects.create(project=p, user=carol, role=Role.VIEWER)
    return p


@pytest.fixture
def users_by_role(alice, bob, carol, dave):
    return {"owner": alice, "developer": bob, "viewer": carol, "outsider": dave}


@pytest.fixture
def client_for(client, password):
    """A logged-in Django test client for a given user."""
    from django.test import Client

    def make(user):
        c = Client()
        c.force_login(user)
        return c

    return make


# --- Browser (pytest-playwright) ------------------------------------------------------------
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def login(page, live_server, password):
    """Log a user in through the real login form; returns the page."""

    def do(user):
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return do


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counts (DRF rates, failed token authentications) live in the default cache, a
    per-process one in tests: each test starts with none, as a new client would."""
    from django.core.cache import cache

    cache.clear()
