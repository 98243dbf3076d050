"""Two owners approve the same request at the same moment, each on their own PostgreSQL
connection: the change is applied once, and the second owner hears who approved it."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from deployments.approvals.models import ApprovalRequest
from deployments.approvals.services import approval_request_approve
from deployments.models import Deployment, DeploymentEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _waiting_on_locks() -> int:
    with connection.cursor() as cur:
        # Statistics are a snapshot per transaction: the caller is inside one.
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cur.fetchone()[0]


def test_two_owners_approving_at_once_apply_it_once(
    component, prod, project, alice, bob, make_user, request_promote
):
    from portal.models import Membership

    erin = make_user("erin")
    Membership.objects.create(project=project, user=erin, role="owner")
    a = request_promote(bob)
    results: dict[str, object] = {}

    def approve(user):
        try:
            results[user.username] = approval_request_approve(
                approval=ApprovalRequest.objects.get(pk=a.pk), actor=user
            )
        except ValidationError as exc:
            results[user.username] = exc
        finally:
            connections.close_all()

    # Hold the request's row so both approvals are inside the service, waiting on it, before
    # either can go on: the race is real, not two calls one after the other.
    with transaction.atomic():
        ApprovalRequest.objects.select_for_update().get(pk=a.pk)
        threads = [threading.Thread(target=approve, args=(u,)) for u in (alice, erin)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while _waiting_on_locks() < 2:
            assert time.monotonic() < deadline, "the two approvals never both waited"
            time.sleep(0.05)
    for t in threads:
        t.join(timeout=60)

    applied = [r for r in results.values() if isinstance(r, ApprovalRequest)]
    refused = [r for r in results.values() if isinstance(r, ValidationError)]
    assert len(applied) == 1 and len(refused) == 1, results
    winner = applied[0].decided_by.username
    assert f"already approved and applied by {winner}" in " ".join(refused[0].messages)
    assert Deployment.objects.filter(component=component, environment=prod).count() == 1
    promotions = DeploymentEvent.objects.filter(
        component=component, environment=prod, kind="promote", outcome="ok"
    )
    assert promotions.count() == 1
    approvals = DeploymentEvent.objects.filter(component=component, kind="approve")
    assert sorted(approvals.values_list("outcome", flat=True)) == ["failed", "ok"]
