from __future__ import annotations

from deployments.approvals import views as approvals
from deployments.builds import views as builds
from deployments.deploy import views as deploy
from deployments.executions import views as executions

urlpatterns = [
    *builds.urlpatterns,
    *deploy.urlpatterns,
    *executions.urlpatterns,
    *approvals.urlpatterns,
]
