"""Celery tasks of the deployments app (autodiscovered as `deployments.tasks`)."""

from __future__ import annotations

from .builds import *  # noqa: F403
from .deploy import *  # noqa: F403
from .executions import *  # noqa: F403
from .images import *  # noqa: F403
