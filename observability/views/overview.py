"""The project overview's table of deployed tasks (portal.views.project_detail draws the page).

Every open overview asks for itself again every 10 s, and building the table (the last runs,
the 7-day rates, the tick strips) costs more than the rest of the page together; what it shows
changes when runs finish, a few times a minute. So the rendered table is kept per project
for CHORUS_OVERVIEW_CACHE_SECONDS in the default cache: a finished run shows up at most that
much later, whoever asks in between gets the same HTML. Only what every member sees is in it
(templates/observability/_overview_tasks.html); what depends on the viewer's role is drawn
around it. The key carries the shape of the project (its components and deployments, one small
query: selectors.overview.project_shape), so a component created or a deployment made, changed
or suspended shows at once. The platform's health above the table is read fresh: a handful of
rows.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from ..heartbeats import platform_health
from ..selectors.overview import project_overview, project_shape


def overview_context(*, project) -> dict:
    """Context for templates/observability/_overview.html: the table, '' without components."""
    tasks = overview_tasks(project=project)
    return {
        "overview_tasks": mark_safe(tasks["html"]),
        # Only worth saying where something is deployed: then nobody firing it matters. Read
        # fresh (a few rows): a worker that comes back clears the warning at once.
        "health": platform_health() if tasks["deployed"] else None,
    }


def overview_tasks(*, project) -> dict:
    """{"html": the table ('' without components), "deployed": whether it has rows}."""
    seconds = settings.CHORUS_OVERVIEW_CACHE_SECONDS
    if not seconds:
        return _render(project)
    shape = project_shape(project=project)
    digest = hashlib.blake2b(repr(shape).encode(), digest_size=8).hexdigest()
    key = f"overview:{project.pk}:{digest}"
    tasks = cache.get(key)  # a cache that fails answers None: render (portal/cache.py)
    if tasks is None:
        tasks = _render(project)
        cache.set(key, tasks, seconds)
    return tasks


def _render(project) -> dict:
    rows = project_overview(project=project)
    if rows:
        # Only names are needed beside the table: no model instances.
        deployed = {r.component_name for r in rows}
        names = project.components.values_list("name", flat=True)
        context = {"undeployed": [n for n in names if n not in deployed]}
    else:
        components = list(project.components.all())
        if not components:
            return {"html": "", "deployed": False}
        context = {"components": components}
    html = render_to_string(
        "observability/_overview_tasks.html",
        {"project": project, "overview_rows": rows, **context},
    )
    return {"html": str(html), "deployed": bool(rows)}
