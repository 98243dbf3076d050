"""The project's schedule load: the busiest minutes of the next 24 hours."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.selectors import project_get_for_user, project_role

from ..selectors.pileup import schedule_pileup


@login_required
@require_GET
def schedule_load(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    pileup = schedule_pileup(project=project)
    return render(
        request,
        "observability/schedule_load.html",
        {
            "project": project,
            "role": project_role(user=request.user, project=project),
            "pileup": pileup,
        },
    )
