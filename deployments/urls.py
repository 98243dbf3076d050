from __future__ import annotations

from .views import builds, deploy, executions

urlpatterns = [*builds.urlpatterns, *deploy.urlpatterns, *executions.urlpatterns]
