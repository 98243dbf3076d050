"""Approvals for Production: a developer's change to a production environment becomes a request
that a project owner approves (then it is applied through the deploy services) or rejects.

Modules: models (ApprovalRequest), basis (what a request was made against, its diff, and
whether it went stale), applying (the dry run and the real run through the deploy services),
services (request, approve, reject, withdraw, refresh), selectors,
views (HTML + htmx), api (DRF). docs/deployments.md describes the behaviour.
"""
