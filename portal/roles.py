"""Project roles, ordered: each role can do everything the ones below it can."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    DEVELOPER = "developer", "Developer"
    OWNER = "owner", "Owner"

    @property
    def rank(self) -> int:
        return _RANK[self.value]

    def at_least(self, other: Role | str) -> bool:
        return _RANK[self.value] >= _RANK[Role(other).value]


_RANK = {"viewer": 0, "developer": 1, "owner": 2}
