"""The Deploy view and its forms: deploy, preview, promote, suspend/resume, undeploy, rollback,
run now, policies, config and secrets.

Every view loads the component through component_get_for_user (404 for outsiders); pages that
change an environment check the environment's role first (developer, owner for production),
and the services check again. Actions are plain POST forms that redirect back, so the page
works without JavaScript; htmx only adds the live schedule preview.

Split by role: page (page, preview, deploy form), promote, actions (suspend, resume,
undeploy, rollback, run now, policies), config (variables and secrets), common (helpers).
"""

from __future__ import annotations

from django.urls import path

from deployments.deploy.views.actions import (
    policies_view,
    resume_view,
    rollback_view,
    run_now_view,
    suspend_view,
    undeploy_view,
)
from deployments.deploy.views.config import config_delete_view, config_view
from deployments.deploy.views.page import deploy_form_view, deploy_view, schedule_preview_view
from deployments.deploy.views.promote import promote_view

_C = "p/<slug:project_slug>/c/<str:name>"
_E = f"{_C}/env/<slug:env_slug>"
urlpatterns = [
    path(f"{_C}/deploy/", deploy_view, name="deploy"),
    path(f"{_C}/deploy/preview/", schedule_preview_view, name="deploy_schedule_preview"),
    path(f"{_E}/deploy/", deploy_form_view, name="deploy_env"),
    path(f"{_E}/promote/", promote_view, name="deploy_promote"),
    path(f"{_E}/suspend/", suspend_view, name="deploy_suspend"),
    path(f"{_E}/resume/", resume_view, name="deploy_resume"),
    path(f"{_E}/undeploy/", undeploy_view, name="deploy_undeploy"),
    path(f"{_E}/rollback/", rollback_view, name="deploy_rollback"),
    path(f"{_E}/run/", run_now_view, name="deploy_run_now"),
    path(f"{_E}/policies/", policies_view, name="deploy_policies"),
    path(f"{_E}/config/", config_view, name="deploy_config"),
    path(f"{_E}/config/<str:key>/delete/", config_delete_view, name="deploy_config_delete"),
]
