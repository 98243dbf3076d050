from __future__ import annotations

from types import SimpleNamespace

from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from .models import Project
from .selectors import projects_for_user


def _switcher(user) -> list[SimpleNamespace]:
    """The user's first 50 projects by name: slug, name and link (one reverse() for all)."""
    prefix = reverse("project_detail", args=["-"])[: -len("-/")]
    # One membership per (project, user): a join without DISTINCT lists each project once.
    return [
        SimpleNamespace(slug=slug, name=name, url=f"{prefix}{slug}/")
        for slug, name in Project.objects.filter(memberships__user=user)
        .order_by("name")
        .values_list("slug", "name")[:50]
    ]


def navigation(request):
    """The project switcher: the user's projects and the current one (from the URL).

    Lazy: only a page that draws the switcher (base.html) reads them; an htmx fragment, such
    as the live log polled every second, costs no query for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.kwargs.get("project_slug") if match else None
    projects = SimpleLazyObject(lambda: _switcher(user))

    def nav_project():
        # The current project only when the user may see it: a 404 for someone else's
        # project must not grow a project menu pointing into it.
        found = next((p for p in projects if p.slug == current), None)
        if current and found is None:
            found = projects_for_user(user=user).filter(slug=current).first()
        return found

    return {
        "nav_projects": projects,
        "nav_project_slug": current,
        "nav_project": SimpleLazyObject(nav_project),
    }
