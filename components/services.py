"""Every write to components and GitHub connections (views, API, CLI call these)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portal import crypto
from portal.models import Project
from portal.roles import Role
from portal.selectors import require_role

from . import github as gh
from .models import Component, GitHubConnection
from .presets import Detection, detect
from .selectors import component_environments_in_use
from .sources import SourceError, git, source_inspect

EDITABLE_FIELDS = (
    "description",
    "git_url",
    "branch",
    "path",
    "preset",
    "entry_command",
    "auto_build",
    "run_as_root",
    "managed_by_repository",
)
# Changing any of these means the source must be looked at again.
SOURCE_FIELDS = ("git_url", "branch", "path", "repository", "github_connection", "sample_key")


def _require(actor, project: Project, min_role: Role = Role.DEVELOPER) -> None:
    if actor is not None:
        require_role(user=actor, project=project, min_role=min_role)


def new_webhook_secret() -> str:
    return secrets.token_hex(24)


def _source_error(component: Component, exc: SourceError) -> ValidationError:
    field = exc.field
    if field == "url":
        field = "repository" if component.source_kind == Component.SourceKind.GITHUB else "git_url"
    return ValidationError({field or "__all__": str(exc)})


def component_source_check(*, component: Component) -> Detection:
    """Look at the component's source and detect its preset; ValidationError when unusable."""
    try:
        inspection = source_inspect(component=component)
    except SourceError as exc:
        raise _source_error(component, exc) from exc
    where = f"at “{component.path}”" if component.path else "at the repository root"
    if component.source_kind == Component.SourceKind.SAMPLE:
        where = f"in the sample “{component.sample_key}”"
    detection = detect(inspection.names, inspection.files, where=where)
    if not detection.ok:
        raise ValidationError({"path": detection.summary})
    return detection


def _clean(component: Component, *, exclude_unique: bool = False) -> None:
    """Model validation plus the rules that depend on the source kind."""
    errors: dict[str, list[str]] = {}
    try:
        component.full_clean(
            exclude=["project", "created_by", "github_connection"],
            validate_unique=False,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    kind = component.source_kind
    try:
        component.path = git.normalize_path(component.path)
    except ValidationError as exc:
        errors.setdefault("path", []).extend(exc.messages)
    if kind == Component.SourceKind.GIT:
        try:
            component.git_url = git.validate_git_url(component.git_url)
        except ValidationError as exc:
            errors.setdefault("git_url", []).extend(exc.messages)
        component.repository, component.github_connection, component.sample_key = "", None, ""
    elif kind == Component.SourceKind.GITHUB:
        if component.github_connection_id is None:
            errors.setdefault("github_connection", []).append("Choose a GitHub connection.")
        elif component.github_connection.project_id != component.project_id:
            errors.setdefault("github_connection", []).append(
                "That GitHub connection belongs to another project."
            )
        if component.repository.count("/") != 1 or not all(component.repository.split("/")):
            errors.setdefault("repository", []).append("Choose a repository (owner/name).")
        if not component.branch.strip():
            errors.setdefault("branch", []).append("Choose a branch.")
        component.git_url, component.sample_key = "", ""
    elif kind == Component.SourceKind.SAMPLE:
        from .samples import SAMPLES

        if component.sample_key not in SAMPLES:
            errors.setdefault("sample_key", []).append("Choose one of the built-in samples.")
        component.git_url, component.repository, component.github_connection = "", "", None
        component.branch, component.path = "", ""
        if component.auto_build:
            errors.setdefault("auto_build", []).append(
                "Built-in samples never receive pushes, so they cannot build automatically. "
                "Build them from the Deploy tab."
            )
    if component.preset == Component.Preset.PYTHON and not component.entry_command.strip():
        errors.setdefault("entry_command", []).append(
            "The Python preset needs the command that starts the task, e.g. “python3 main.py”."
        )
    if component.preset == Component.Preset.DOCKERFILE:
        # A Dockerfile's own CMD runs; a stale Python entry would only confuse.
        component.entry_command = component.entry_command.strip()
    if not exclude_unique and component.project_id and component.name:
        clash = Component.objects.filter(project_id=component.project_id, name=component.name)
        if component.pk:
            clash = clash.exclude(pk=component.pk)
        if clash.exists():
            errors.setdefault("name", []).append(
                f"A component named “{component.name}” already exists in this project."
            )
    if errors:
        raise ValidationError(errors)


def component_create(
    *,
    project: Project,
    actor,
    name: str,
    source_kind: str,
    description: str = "",
    git_url: str = "",
    repository: str = "",
    github_connection: GitHubConnection | None = None,
    branch: str = "",
    path: str = "",
    sample_key: str = "",
    preset: str | None = None,
    entry_command: str | None = None,
    auto_build: bool = False,
    check_source: bool = True,
    sample_pull_request: str | None = None,
) -> Component:
    """Create a component. With `check_source` the source is read and the preset detected
    (an explicit `preset`/`entry_command` wins over the detection).

    `sample_pull_request` (a sample key, GitHub sources only): the repository does not hold the
    code yet; the sample is committed on a new branch and a pull request is opened. A failed
    pull request rolls the creation back.
    """
    _require(actor, project)
    component = Component(
        project=project,
        name=(name or "").strip(),
        description=description or "",
        source_kind=source_kind,
        git_url=(git_url or "").strip(),
        repository=(repository or "").strip(),
        github_connection=github_connection,
        branch=(branch or "").strip(),
        path=path or "",
        sample_key=sample_key or "",
        preset=preset or Component.Preset.DOCKERFILE,
        entry_command=(entry_command or "").strip(),
        auto_build=auto_build,
        created_by=actor,
    )
    if sample_pull_request:
        from .samples import SAMPLES

        sample = SAMPLES.get(sample_pull_request)
        if sample is None or source_kind != Component.SourceKind.GITHUB:
            raise ValidationError({"sample_key": "Choose a sample to open a pull request with."})
        component.path = component.path or sample.key
        component.preset = preset or sample.preset
        component.entry_command = (entry_command or sample.entry or "").strip()
        check_source = False
    if source_kind == Component.SourceKind.SAMPLE and not preset:
        from .samples import SAMPLES

        if sample_key in SAMPLES:
            component.preset = SAMPLES[sample_key].preset
            component.entry_command = (entry_command or SAMPLES[sample_key].entry or "").strip()
    _clean(component)
    if check_source:
        detection = component_source_check(component=component)
        if preset is None:
            component.preset = detection.preset
        if entry_command is None and component.preset == Component.Preset.PYTHON:
            component.entry_command = detection.entry
        _clean(component)
    component.webhook_secret_encrypted = crypto.encrypt(new_webhook_secret())
    with transaction.atomic():
        try:
            with transaction.atomic():
                component.save()
        except IntegrityError:
            raise ValidationError(
                {"name": f"A component named “{component.name}” already exists in this project."}
            ) from None
        if sample_pull_request:
            sample_pull_request_open(
                component=component, actor=actor, sample_key=sample_pull_request
            )
    return component


@transaction.atomic
def component_update(
    *, component: Component, actor, check_source: bool = True, **changes
) -> Component:
    """Change the editable fields (name and source kind stay: they name images and URLs)."""
    _require(actor, component.project)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    component = Component.objects.select_for_update().get(pk=component.pk)
    if "run_as_root" in changes and bool(changes["run_as_root"]) != component.run_as_root:
        # Root in a container is a step closer to the host: an owner's decision.
        _require(actor, component.project, Role.OWNER)
    if component.source_kind == Component.SourceKind.SAMPLE and "auto_build" not in changes:
        # Older sample rows may carry auto_build from before it was refused; it never fired.
        component.auto_build = False
    source_changed = False
    for field, value in changes.items():
        if isinstance(value, str):
            value = value.strip() if field != "description" else value
        if getattr(component, field) != value:
            setattr(component, field, value)
            source_changed |= field in SOURCE_FIELDS or field == "preset"
    _clean(component)
    if "managed_by_repository" in changes and not component.managed_by_repository:
        # Off: the fields chorus.toml set become editable again everywhere.
        from deployments.deploy.services.repository import managed_clear

        managed_clear(component=component)
    if check_source and source_changed and component.source_kind != Component.SourceKind.SAMPLE:
        detection = component_source_check(component=component)
        if component.preset not in detection.available:
            raise ValidationError(
                {
                    "preset": f"The {component.get_preset_display()} preset does not fit: "
                    f"{detection.summary}"
                }
            )
    component.save()
    return component


@transaction.atomic
def component_delete(*, component: Component, actor) -> None:
    """Delete the component, its builds and deployments, and its deployments' beat schedules.

    Deleting removes every environment's deployment, secrets and history, so it needs the role
    that may undeploy each of those environments: an owner as soon as Production holds anything.
    """
    _require(actor, component.project)
    from django_celery_beat.models import PeriodicTask

    from deployments.deploy.services.rules import check_environment_role
    from deployments.models import Deployment

    for environment in component_environments_in_use(component=component):
        check_environment_role(
            actor=actor,
            component=component,
            environment=environment,
            action="delete a component deployed or configured",
        )

    deployments = list(Deployment.objects.filter(component=component))
    task_ids = [d.periodic_task_id for d in deployments if d.periodic_task_id]
    names = [f"chorus:deployment:{d.pk}" for d in deployments]
    # Deleting the PeriodicTask rows is what stops beat: it reloads the schedule on change.
    PeriodicTask.objects.filter(pk__in=task_ids).delete()
    PeriodicTask.objects.filter(name__in=names).delete()
    # Deployment.build is PROTECT (a deployed build must not vanish): deployments go first.
    Deployment.objects.filter(component=component).delete()
    component.delete()


@transaction.atomic
def component_webhook_secret_rotate(*, component: Component, actor) -> str:
    _require(actor, component.project)
    secret = new_webhook_secret()
    Component.objects.filter(pk=component.pk).update(
        webhook_secret_encrypted=crypto.encrypt(secret)
    )
    component.webhook_secret_encrypted = crypto.encrypt(secret)
    return secret


# --- GitHub ---------------------------------------------------------------------------------
def github_connection_create(
    *, project: Project, actor, token: str, base_url: str | None = None
) -> GitHubConnection:
    """Connect a GitHub account with a personal access token (checked with GET /user).

    Connecting the same account again replaces its token.
    """
    from django.conf import settings

    _require(actor, project)
    token = (token or "").strip()
    if not token:
        raise ValidationError({"token": "Paste a personal access token."})
    try:
        base_url = gh.validate_api_url(base_url or settings.CHORUS_GITHUB_API_URL)
    except ValidationError as exc:
        raise ValidationError({"base_url": exc.messages}) from exc
    try:
        login = gh.account_login(base_url=base_url, token=token)
    except gh.GitHubError as exc:
        raise ValidationError({"token": str(exc)}) from exc
    with transaction.atomic():
        connection, _ = GitHubConnection.objects.update_or_create(
            project=project,
            base_url=base_url,
            login=login,
            defaults={"token_encrypted": crypto.encrypt(token), "created_by": actor},
        )
    return connection


@transaction.atomic
def github_connection_delete(*, connection: GitHubConnection, actor) -> None:
    _require(actor, connection.project)
    connection.delete()


@dataclass(frozen=True)
class SamplePullRequest:
    url: str
    branch: str


def sample_pull_request_open(*, component: Component, actor, sample_key: str) -> SamplePullRequest:
    """Commit a built-in sample at the component's path on a new branch and open a PR."""
    from .samples import get_sample

    _require(actor, component.project)
    if component.source_kind != Component.SourceKind.GITHUB or component.github_connection is None:
        raise ValidationError("Pull requests can only be opened in a connected GitHub repository.")
    try:
        sample = get_sample(sample_key)
    except KeyError as exc:
        raise ValidationError({"sample_key": str(exc)}) from exc
    connection = component.github_connection
    path = component.path
    try:
        existing = gh.list_dir(connection, component.repository, component.branch, path)
    except gh.GitHubError:
        existing = []  # the path does not exist yet: exactly what we want
    if path and existing:
        raise ValidationError(
            {"path": f"“{path}” already exists in {component.repository}; choose a new path."}
        )
    files = gh.tree_files(sample.path, prefix=path)
    title = f"Add the scheduled task “{component.name}” (Chorus sample: {sample.title})"
    body = (
        f"This pull request adds the Chorus built-in sample **{sample.title}** at "
        f"`{path or '/'}`.\n\n{sample.description}\n\n"
        f"Merge it into `{component.branch}`, then build the component “{component.name}” "
        "in Chorus."
    )
    last_error: gh.GitHubError | None = None
    for attempt in range(1, 6):
        branch = f"chorus/{component.name}" + (f"-{attempt}" if attempt > 1 else "")
        try:
            pr = gh.open_sample_pull_request(
                connection,
                component.repository,
                base_branch=component.branch,
                branch=branch,
                files=files,
                title=title,
                body=body,
                commit_message=f"Add Chorus sample {sample.title} at {path or '/'}",
            )
        except gh.GitHubError as exc:
            last_error = exc
            if "already exists" in str(exc):
                continue  # the branch name is taken: try the next one
            break
        Component.objects.filter(pk=component.pk).update(pull_request_url=pr.url)
        component.pull_request_url = pr.url
        return SamplePullRequest(url=pr.url, branch=pr.branch)
    raise ValidationError(str(last_error))
