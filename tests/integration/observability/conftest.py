"""Fixtures for observability integration tests."""

from __future__ import annotations

import pytest

from tests.support.webhook_receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
