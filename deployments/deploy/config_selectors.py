"""Reads of the config contract for the deploy and promote pages, the API and the CLI: what a
build declares against what an environment has set, and the configuration part of the
promotion diff.

Nothing here returns a secret's value: a secret is only ever "set" or "not set".
"""

from __future__ import annotations

from dataclasses import dataclass

from components.models import Component
from deployments.deploy.services.contract import Declaration, declarations
from deployments.models import Build, ConfigVar, Environment

MASK = "••••"


@dataclass
class SettingRow:
    """One declared key in one environment."""

    declaration: Declaration
    is_set: bool
    is_secret: bool  # stored as a secret (or declared one)
    value: str  # the plain value when set; "" for secrets and unset keys

    @property
    def key(self) -> str:
        return self.declaration.key

    @property
    def status(self) -> str:
        """set, missing (required, no value), default (the declared default applies) or unset."""
        if self.is_set:
            return "set"
        if self.declaration.required:
            return "missing"
        return "default" if self.declaration.default is not None else "unset"

    @property
    def shown(self) -> str:
        """What a page may show for the value: never a secret's."""
        if self.is_set:
            return MASK if self.is_secret else self.value
        return ""


def _vars(component: Component, environment: Environment) -> dict[str, ConfigVar]:
    return {
        v.key: v
        for v in ConfigVar.objects.filter(component=component, environment=environment).defer(
            "value_encrypted"
        )
    }


def _has_value(var: ConfigVar | None) -> bool:
    return var is not None and (var.is_secret or var.value != "")


def contract_rows(
    *, component: Component, environment: Environment, build: Build | None
) -> list[SettingRow]:
    """The declarations of `build`, each with what `environment` has set for it."""
    have = _vars(component, environment)
    rows = []
    for key, decl in declarations(build).items():
        var = have.get(key)
        rows.append(
            SettingRow(
                declaration=decl,
                is_set=_has_value(var),
                is_secret=bool(var.is_secret) if var is not None else decl.secret,
                value=var.value if _has_value(var) and not var.is_secret else "",
            )
        )
    return rows


@dataclass
class ConfigDiffRow:
    key: str
    source: str  # what the source environment has (a secret: "set" / "not set")
    target: str  # what the target has now
    note: str  # in words: missing in target, differs, required, same, only in target
    kind: str  # missing-required, missing, differs, same, target-only, default
    required: bool


def _words(var: ConfigVar | None, decl: Declaration | None) -> str:
    if not _has_value(var):
        if decl is not None and decl.default is not None and not decl.required:
            return f"not set (default {decl.default})"
        return "not set"
    return "set" if var.is_secret else var.value


def config_diff(
    *,
    component: Component,
    source_env: Environment,
    target_env: Environment,
    build: Build | None,
) -> list[ConfigDiffRow]:
    """The configuration side of a promotion of `build` from `source_env` to `target_env`.

    Configuration is never copied by a promotion, so each row says what the target will run
    with: keys the source has and the target lacks, values that differ (secrets compared only
    as set / not set), required keys the target lacks, and keys only the target has.
    """
    declared = declarations(build)
    source, target = _vars(component, source_env), _vars(component, target_env)
    keys = list(declared) + sorted((set(source) | set(target)) - set(declared))
    rows = []
    for key in keys:
        decl = declared.get(key)
        s, t = source.get(key), target.get(key)
        required = bool(decl and decl.required)
        if required and not _has_value(t):
            kind, note = "missing-required", f"required — missing in {target_env.name}"
        elif _has_value(s) and not _has_value(t):
            kind, note = "missing", f"missing in {target_env.name}"
            if decl is not None and decl.default is not None:
                note += f": the default {decl.default} applies"
        elif not _has_value(s) and not _has_value(t):
            kind, note = "default", "default applies" if decl and decl.default else "not set"
        elif not _has_value(s):
            kind, note = "target-only", f"only in {target_env.name}"
        elif s.is_secret or t.is_secret:
            # Secret values are never compared or shown; both have one.
            kind, note = "same", "set in both"
        elif s.value != t.value:
            kind, note = "differs", "differs"
        else:
            kind, note = "same", "same"
        rows.append(
            ConfigDiffRow(
                key=key,
                source=_words(s, decl),
                target=_words(t, decl),
                note=note,
                kind=kind,
                required=required,
            )
        )
    return rows
