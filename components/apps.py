from __future__ import annotations

from django.apps import AppConfig


class ComponentsConfig(AppConfig):
    name = "components"

    def ready(self) -> None:
        from .github import pin_github_connections

        pin_github_connections()
