"""Config variables and secrets per (component, environment).

Secrets are encrypted at rest with portal.crypto (Fernet) and are write-only: nothing here
returns a secret's value except `deployment_runtime_env`, which only the executions side calls
at run time (it also returns the values so every stored log line can be masked, and fills in
the defaults the build's chorus.toml declares). Keys the contract declares are checked on set
(services/contract.py): a declared secret is stored as a secret, a declared type must fit. Events never
carry a secret's value. Every change bumps the deployment's `config_revision`, which each
execution records.
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from components.manifest.config import config_defaults
from components.models import Component
from deployments.models import ConfigVar, Deployment, DeploymentEvent, Environment
from portal.crypto import decrypt, encrypt

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_KEY_LENGTH = 100
MAX_VALUE_BYTES = 32 * 1024
# Set by Chorus itself at run time; a config variable must not shadow them.
RESERVED_PREFIX = "CHORUS_"
PLAIN_PREVIEW = 80


def validate_key(key: str) -> str:
    key = (key or "").strip()
    if not key:
        raise ValidationError({"key": ["Enter a variable name, e.g. API_URL."]})
    if len(key) > MAX_KEY_LENGTH or not KEY_RE.match(key):
        raise ValidationError(
            {
                "key": [
                    f'"{key[:MAX_KEY_LENGTH]}" is not a valid variable name: use letters, digits '
                    "and underscores, not starting with a digit (at most 100 characters)."
                ]
            }
        )
    if key.upper().startswith(RESERVED_PREFIX):
        raise ValidationError(
            {"key": [f"Names starting with {RESERVED_PREFIX} are set by Chorus at run time."]}
        )
    return key


def _bump_revision(*, component: Component, environment: Environment) -> Deployment | None:
    Deployment.objects.filter(component=component, environment=environment).update(
        config_revision=F("config_revision") + 1
    )
    return Deployment.objects.filter(component=component, environment=environment).first()


def _check(*, actor, component: Component, environment: Environment, action: str) -> None:
    from deployments.deploy.services.rules import check_environment_role

    check_environment_role(actor=actor, component=component, environment=environment, action=action)


def _record_failure(*, component, environment, actor, is_secret, key, exc) -> None:
    from deployments.deploy.services.events import error_text, record_event

    record_event(
        kind=DeploymentEvent.Kind.SECRET if is_secret else DeploymentEvent.Kind.CONFIG,
        component=component,
        environment=environment,
        deployment=Deployment.objects.filter(component=component, environment=environment).first(),
        actor=actor,
        outcome=DeploymentEvent.Outcome.FAILED,
        message=f"Change of {str(key)[:MAX_KEY_LENGTH]} refused: {error_text(exc)}",
    )


def config_set(
    *,
    component: Component,
    environment: Environment,
    key: str,
    value: str,
    is_secret: bool,
    actor,
) -> ConfigVar:
    """Create or replace a variable; secrets are stored encrypted and never shown again."""
    try:
        with transaction.atomic():
            return _config_set(
                component=component,
                environment=environment,
                key=key,
                value=value,
                is_secret=is_secret,
                actor=actor,
            )
    except (ValidationError, PermissionDenied) as exc:
        _record_failure(
            component=component,
            environment=environment,
            actor=actor,
            is_secret=is_secret,
            key=key,
            exc=exc,
        )
        raise


_LOOKUP = object()


def _config_set(
    *, component, environment, key, value, is_secret, actor, declaration=_LOOKUP
) -> ConfigVar:
    """`declaration`: the key's declaration in the contract that applies (looked up when not
    given); a declared secret is always stored as a secret, a declared type is checked."""
    from deployments.deploy.services.contract import (
        check_declared_value,
        contract_build,
        declarations,
    )
    from deployments.deploy.services.events import record_event

    if declaration is _LOOKUP:
        build = contract_build(component=component, environment=environment)
        declaration = declarations(build).get(str(key or "").strip())
    if declaration is not None and declaration.secret:
        is_secret = True
    action = "change secrets" if is_secret else "change config"
    _check(actor=actor, component=component, environment=environment, action=action)
    key = validate_key(key)
    value = "" if value is None else str(value)
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ValidationError({"value": ["A value can be at most 32 KB."]})
    if "\x00" in value:
        raise ValidationError({"value": ["A value cannot contain a NUL character."]})
    if is_secret and not value:
        raise ValidationError({"value": ["Enter the secret's value."]})
    check_declared_value(key=key, value=value, declaration=declaration)
    var = (
        ConfigVar.objects.select_for_update()
        .filter(component=component, environment=environment, key=key)
        .first()
    )
    existed = var is not None
    if var is None:
        var = ConfigVar(component=component, environment=environment, key=key)
    elif var.is_secret and not is_secret:
        # Turning a secret into a plain variable would make a value visible that was written
        # as secret: refuse, the user deletes it first.
        raise ValidationError(
            {"key": [f"{key} is a secret; delete it first to store a plain value under this name."]}
        )
    var.is_secret = bool(is_secret)
    if is_secret:
        var.value = ""
        var.value_encrypted = encrypt(value)
    else:
        var.value = value
        var.value_encrypted = ""
    var.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    var.save()
    deployment = _bump_revision(component=component, environment=environment)
    if is_secret:
        message = f"{'Replaced' if existed else 'Added'} secret {key} (value hidden)"
    else:
        shown = value if len(value) <= PLAIN_PREVIEW else value[:PLAIN_PREVIEW] + "…"
        message = f"{'Changed' if existed else 'Added'} {key} = {shown}"
    if deployment is not None:
        message += f"; config revision {deployment.config_revision}"
    record_event(
        kind=DeploymentEvent.Kind.SECRET if is_secret else DeploymentEvent.Kind.CONFIG,
        component=component,
        environment=environment,
        deployment=deployment,
        actor=actor,
        message=message,
    )
    return var


def config_delete(*, component: Component, environment: Environment, key: str, actor) -> None:
    var = ConfigVar.objects.filter(component=component, environment=environment, key=key).first()
    is_secret = bool(var and var.is_secret)
    try:
        with transaction.atomic():
            _config_delete(
                component=component, environment=environment, key=key, actor=actor, var=var
            )
    except (ValidationError, PermissionDenied) as exc:
        _record_failure(
            component=component,
            environment=environment,
            actor=actor,
            is_secret=is_secret,
            key=key,
            exc=exc,
        )
        raise


def _config_delete(*, component, environment, key, actor, var) -> None:
    from deployments.deploy.services.events import record_event

    action = "change secrets" if var is not None and var.is_secret else "change config"
    _check(actor=actor, component=component, environment=environment, action=action)
    if var is None:
        raise ValidationError(f"There is no variable {key} in {environment.name}.")
    ConfigVar.objects.filter(pk=var.pk).delete()
    deployment = _bump_revision(component=component, environment=environment)
    message = f"Deleted {'secret ' if var.is_secret else ''}{var.key}"
    if deployment is not None:
        message += f"; config revision {deployment.config_revision}"
    record_event(
        kind=DeploymentEvent.Kind.SECRET if var.is_secret else DeploymentEvent.Kind.CONFIG,
        component=component,
        environment=environment,
        deployment=deployment,
        actor=actor,
        message=message,
    )


def config_list(*, component: Component, environment: Environment) -> list[ConfigVar]:
    """The variables of an environment, secrets without their values (safe to render)."""
    return list(
        ConfigVar.objects.filter(component=component, environment=environment)
        .defer("value_encrypted")
        .order_by("key")
    )


def deployment_runtime_env(
    *, deployment: Deployment, defaults: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """(environment variables, secret values) for running `deployment` right now.

    Keys with a declared default (`defaults`; when not given, those of the deployed build's
    chorus.toml) get it unless the environment sets them.

    The secret values come back longest first so a masker replacing them in order never leaves
    the tail of a longer secret that contains a shorter one. For the executions side only.
    """
    if defaults is None:
        defaults = config_defaults(deployment.build.manifest)
    env: dict[str, str] = dict(defaults)
    secrets: list[str] = []
    for var in ConfigVar.objects.filter(
        component_id=deployment.component_id, environment_id=deployment.environment_id
    ):
        if var.is_secret:
            value = decrypt(var.value_encrypted)
            if value:
                secrets.append(value)
        else:
            value = var.value
        env[var.key] = value
    secrets.sort(key=len, reverse=True)
    return env, secrets
