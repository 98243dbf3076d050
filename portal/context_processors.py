from __future__ import annotations

from .selectors import projects_for_user


def navigation(request):
    """The project switcher: the user's projects and the current one (from the URL)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.kwargs.get("project_slug") if match else None
    projects = list(projects_for_user(user=user)[:50])
    # The current project only when the user may see it: a 404 for someone else's project
    # must not grow a project menu pointing into it.
    nav_project = next((p for p in projects if p.slug == current), None)
    if current and nav_project is None:
        nav_project = projects_for_user(user=user).filter(slug=current).first()
    return {
        "nav_projects": projects,
        "nav_project_slug": current,
        "nav_project": nav_project,
    }
