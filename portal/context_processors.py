from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from .selectors import projects_for_user


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
    projects = SimpleLazyObject(lambda: list(projects_for_user(user=user)[:50]))

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
