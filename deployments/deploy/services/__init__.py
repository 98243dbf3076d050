"""Deploy, promote, roll back, suspend, resume and undeploy; policies. Every write is here.

Each public service runs its work in one transaction (the Deployment row, its
django-celery-beat PeriodicTask and the DeploymentEvent commit together or not at all). A
refused attempt (ValidationError / PermissionDenied) is recorded afterwards as a failed
DeploymentEvent, outside the rolled-back work, so the deploy log shows failures too.

Rules (docs/deployments.md):
- only a succeeded build of the component is deployed;
- an environment marked `is_production` only runs an image that already ran successfully
  (an Execution with status succeeded) in a lower environment of the same component;
- developers change non-production environments; only owners change production ones;
- a suspended deployment keeps its PeriodicTask enabled, so ticks still arrive and the
  executions side records them as skipped ("suspended"), never silently dropped;
- undeploy deletes the PeriodicTask and keeps the Deployment row (status "undeployed") so its
  executions and history survive; deploying again reuses the row.

Split by role: rules (roles, the production gate, policies), beat (the PeriodicTask), events
(the deploy log), lifecycle (deploy, promote, rollback), state (suspend, resume, undeploy,
policies). Import from here: `from deployments.deploy.services import deployment_deploy`.
"""

from __future__ import annotations

from deployments.deploy.services.beat import TICK_QUEUE, TICK_TASK, periodic_task_name
from deployments.deploy.services.config import deployment_runtime_env
from deployments.deploy.services.events import error_text, record_event
from deployments.deploy.services.lifecycle import (
    deployment_deploy,
    deployment_get,
    deployment_promote,
    deployment_rollback,
)
from deployments.deploy.services.rules import (
    POLICY_FIELDS,
    POLICY_LABELS,
    POLICY_RULES,
    build_cleared_for,
    build_ran_in,
    can_change,
    check_environment_role,
    min_role_for,
    policies_clean,
)
from deployments.deploy.services.state import (
    deployment_resume,
    deployment_suspend,
    deployment_undeploy,
    deployment_update_policies,
)

__all__ = [
    "POLICY_FIELDS",
    "POLICY_LABELS",
    "POLICY_RULES",
    "TICK_QUEUE",
    "TICK_TASK",
    "build_cleared_for",
    "build_ran_in",
    "can_change",
    "check_environment_role",
    "deployment_deploy",
    "deployment_get",
    "deployment_promote",
    "deployment_resume",
    "deployment_rollback",
    "deployment_runtime_env",
    "deployment_suspend",
    "deployment_undeploy",
    "deployment_update_policies",
    "error_text",
    "min_role_for",
    "periodic_task_name",
    "policies_clean",
    "record_event",
]
