"""The config contract at deploy and promote time: what a build's chorus.toml declares
(components/manifest/config.py) against what an environment has set.

- `declarations(build)`: the declared settings of a build, in the file's order;
- `contract_build`: the build whose contract applies to an environment's variables (the one
  deployed there, else the one a promotion would bring, else the latest succeeded build);
- `config_apply`: the values given with a deploy or promote, set inside its transaction
  (declared secrets are stored as secrets, declared types are checked);
- `check_required`: refuses (MissingConfig, naming every key) while a key the build declares
  required has no value in the environment. Undeclared keys are always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from components.manifest.config import value_error
from components.models import Component
from deployments.models import Build, ConfigVar, Deployment, Environment


@dataclass(frozen=True)
class Declaration:
    key: str
    description: str
    required: bool
    default: str | None
    secret: bool
    type: str
    order: int


class MissingConfig(ValidationError):
    """A deploy or promotion refused because required settings have no value; `missing` says
    which, so a form can mark each field."""

    def __init__(self, message: str, keys: list[str]):
        super().__init__({"config": [message]})
        self.missing = keys


def declarations(build: Build | None) -> dict[str, Declaration]:
    """{key: Declaration} of `build`'s chorus.toml, in the order the file declares them."""
    declared = ((build.manifest or {}).get("config") or {}) if build is not None else {}
    out = [
        Declaration(
            key=key,
            description=str(spec.get("description") or ""),
            required=bool(spec.get("required")),
            default=spec.get("default"),
            secret=bool(spec.get("secret")),
            type=str(spec.get("type") or "string"),
            order=int(spec.get("order") or 0),
        )
        for key, spec in declared.items()
        if isinstance(spec, dict)
    ]
    return {d.key: d for d in sorted(out, key=lambda d: (d.order, d.key))}


def contract_build(*, component: Component, environment: Environment) -> Build | None:
    """The build whose declarations apply to `environment`'s variables."""
    from deployments.environments import promotion_source

    live = Deployment.objects.exclude(status=Deployment.Status.UNDEPLOYED).select_related("build")
    deployed = live.filter(component=component, environment=environment).first()
    if deployed is not None:
        return deployed.build
    source = promotion_source(environment=environment)
    if source is not None:
        upstream = live.filter(component=component, environment=source).first()
        if upstream is not None:
            return upstream.build
    return (
        Build.objects.filter(component=component, status=Build.Status.SUCCEEDED)
        .order_by("-queued_at", "-id")
        .first()
    )


def check_declared_value(*, key: str, value: str, declaration: Declaration | None) -> None:
    """A declared key's value must fit its type (undeclared keys are free text)."""
    if declaration is None or declaration.type == "string":
        return
    problem = value_error(value, declaration.type)
    if problem:
        raise ValidationError({"value": [f"{key} {problem}."]})


def set_keys(*, component: Component, environment: Environment) -> set[str]:
    """Keys that have a value in the environment (an empty plain value counts as unset)."""
    return {
        key
        for key, value, is_secret in ConfigVar.objects.filter(
            component=component, environment=environment
        ).values_list("key", "value", "is_secret")
        if is_secret or value != ""
    }


def missing_required(
    *, component: Component, environment: Environment, build: Build | None
) -> list[Declaration]:
    have = set_keys(component=component, environment=environment)
    return [d for d in declarations(build).values() if d.required and d.key not in have]


def check_required(*, component: Component, environment: Environment, build: Build) -> None:
    missing = missing_required(component=component, environment=environment, build=build)
    if not missing:
        return
    names = ", ".join(d.key for d in missing)
    one = len(missing) == 1
    raise MissingConfig(
        f"Set {names} in {environment.name} first: build #{build.pk}'s chorus.toml declares "
        f"{'it' if one else 'them'} required and {environment.name} has no value for "
        f"{'it' if one else 'them'}.",
        [d.key for d in missing],
    )


def config_apply(
    *, component: Component, environment: Environment, build: Build, values: dict | None, actor
) -> None:
    """Set the values given with a deploy or promote (inside the caller's transaction).

    An empty value leaves the key as it is, so a form's blank optional fields change nothing.
    """
    from deployments.deploy.services.config import _config_set

    declared = declarations(build)
    for key, value in (values or {}).items():
        if value is None or str(value) == "":
            continue
        decl = declared.get(key)
        _config_set(
            component=component,
            environment=environment,
            key=key,
            value=str(value),
            is_secret=bool(decl and decl.secret),
            actor=actor,
            declaration=decl,
        )
