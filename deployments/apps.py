from __future__ import annotations

from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "deployments"

    def ready(self) -> None:
        # Feature models kept beside their feature (deployments/approvals/); importing the
        # module registers them with this app.
        from django.db.models.signals import post_delete, post_save

        import deployments.approvals.models  # noqa: F401
        from deployments.executions.prepare import environment_forget
        from deployments.models import Environment

        # Workers cache environments for a few seconds (executions/claims.py); a change saved
        # in this process drops the cached row at once.
        for signal in (post_save, post_delete):
            signal.connect(environment_forget, sender=Environment, dispatch_uid="chorus-env-cache")
