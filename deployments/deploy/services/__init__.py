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
policies).
"""

from __future__ import annotations
