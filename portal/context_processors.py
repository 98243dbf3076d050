from __future__ import annotations

from .selectors import projects_for_user


def navigation(request):
    """The project switcher: the user's projects and the current one (from the URL)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.kwargs.get("project_slug") if match else None
    return {"nav_projects": list(projects_for_user(user=user)[:50]), "nav_project_slug": current}
