"""`chorus approvals`: a developer asks, an owner lists, approves or rejects, through the real
console script against a live server."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_request_list_approve_and_reject(
    chorus, tokens, component, prod, build, in_dev, approvals_on
):
    from deployments.models import Deployment

    # The developer cannot promote Production, and hears how to ask instead.
    r = chorus("promote", "payments/nightly-report", token=tokens["developer"])
    assert r.code != 0 and "chorus approvals request" in r.err, (r.out, r.err)

    r = chorus(
        "approvals", "request", "payments/nightly-report", "--action", "promote",
        "--schedule", "0 4 * * *", "--comment", "green for a week", token=tokens["developer"],
    )  # fmt: skip
    assert r.code == 0, r.err
    assert "Sent request #" in r.out and "0 4 * * *" in r.out
    first = int(r.out.split("#", 1)[1].split(":", 1)[0])

    r = chorus("approvals", "list", "--project", "payments", token=tokens["owner"])
    assert r.code == 0, r.err
    header, row = r.out.splitlines()[:2]
    assert header.split()[:3] == ["ID", "STATUS", "COMPONENT"]
    assert row.split()[:3] == [str(first), "pending", "nightly-report"] and "bob" in row

    r = chorus("approvals", "approve", str(first), "-p", "payments", token=tokens["viewer"])
    assert r.code != 0 and "Only project owners can approve" in r.err
    r = chorus("approvals", "approve", str(first), "-p", "payments", token=tokens["owner"])
    assert r.code == 0, r.err
    assert f"Approved and applied request #{first}" in r.out
    d = Deployment.objects.get(component=component, environment=prod)
    assert d.build.image_digest == build.image_digest and d.schedule == "0 4 * * *"
    r = chorus("approvals", "approve", str(first), "-p", "payments", token=tokens["owner"])
    assert r.code != 0 and "already approved and applied by alice" in r.err

    r = chorus(
        "approvals", "request", "payments/nightly-report", "--action", "policy",
        "--policies", '{"max_retries": 4}', "--json", token=tokens["developer"],
    )  # fmt: skip
    assert r.code == 0, r.err
    second = r.json()["id"]
    r = chorus("approvals", "reject", str(second), "-p", "payments", token=tokens["owner"])
    assert r.code == 2 and "--reason" in r.err  # argparse: the reason is required
    r = chorus(
        "approvals", "reject", str(second), "-p", "payments", "--reason", "not this week",
        token=tokens["owner"],
    )  # fmt: skip
    assert r.code == 0, r.err
    r = chorus("approvals", "view", str(second), "-p", "payments", token=tokens["developer"])
    assert "rejected" in r.out and "not this week" in r.out
    assert Deployment.objects.get(component=component, environment=prod).max_retries != 4
    r = chorus("approvals", "list", "-p", "payments", "--status", "all", "--json",
               token=tokens["viewer"])  # fmt: skip
    assert [a["status"] for a in r.json()] == ["rejected", "approved"]
