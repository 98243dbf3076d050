"""Writes for projects, memberships and API tokens."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from .models import ApiToken, Membership, Project
from .roles import Role
from .selectors import forget_role, require_role


@transaction.atomic
def project_create(*, name: str, actor, description: str = "", slug: str = "") -> Project:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    slug = slugify(slug or name)[:60]
    if not slug:
        raise ValidationError({"name": "The name must contain letters or digits."})
    if Project.objects.filter(slug=slug).exists():
        raise ValidationError({"name": f"A project with the address “{slug}” already exists."})
    project = Project.objects.create(
        name=name, slug=slug, description=description, created_by=actor
    )
    Membership.objects.create(project=project, user=actor, role=Role.OWNER)
    return project


@transaction.atomic
def project_update(*, project: Project, actor, name: str, description: str) -> Project:
    require_role(user=actor, project=project, min_role=Role.OWNER)
    if not name.strip():
        raise ValidationError({"name": "A project needs a name."})
    project.name = name.strip()
    project.description = description
    project.save(update_fields=["name", "description"])
    return project


@transaction.atomic
def project_set_approvals(
    *, project: Project, actor, production_approval: bool, approval_self_allowed: bool
) -> Project:
    """Whether developers' production changes become approval requests (approvals/), and
    whether a requester may approve their own."""
    require_role(user=actor, project=project, min_role=Role.OWNER)
    project.production_approval = bool(production_approval)
    project.approval_self_allowed = bool(approval_self_allowed)
    project.save(update_fields=["production_approval", "approval_self_allowed"])
    return project


@transaction.atomic
def project_delete(*, project: Project, actor) -> None:
    require_role(user=actor, project=project, min_role=Role.OWNER)
    # Components go through their own service: it stops their beat schedules and removes their
    # deployments (which protect their builds) before the rows cascade away.
    from components.services import component_delete

    for component in project.components.all():
        component_delete(component=component, actor=actor)
    project.delete()


@transaction.atomic
def membership_add(*, project: Project, actor, username: str, role: str) -> Membership:
    require_role(user=actor, project=project, min_role=Role.OWNER)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role “{role}”."})
    User = get_user_model()
    try:
        user = User.objects.get(username=username.strip())
    except User.DoesNotExist:
        raise ValidationError({"username": f"No user named “{username}”."}) from None
    try:
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
    except IntegrityError:
        raise ValidationError(
            {"username": f"{user.username} is already a member of {project.name}."}
        ) from None
    forget_role(project)
    return membership


def _owners_left(project: Project, excluding: Membership) -> int:
    return project.memberships.filter(role=Role.OWNER).exclude(pk=excluding.pk).count()


@transaction.atomic
def membership_change_role(*, membership: Membership, actor, role: str) -> Membership:
    require_role(user=actor, project=membership.project, min_role=Role.OWNER)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role “{role}”."})
    if membership.role == Role.OWNER and role != Role.OWNER:
        if _owners_left(membership.project, membership) == 0:
            raise ValidationError({"role": "A project must keep at least one owner."})
    membership.role = role
    membership.save(update_fields=["role"])
    forget_role(membership.project)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    require_role(user=actor, project=membership.project, min_role=Role.OWNER)
    if membership.role == Role.OWNER and _owners_left(membership.project, membership) == 0:
        raise ValidationError({"username": "A project must keep at least one owner."})
    membership.delete()
    forget_role(membership.project)


TOKEN_MAX_DAYS = 3650


@transaction.atomic
def api_token_create(
    *, user, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a token; return it with its secret, which is never retrievable again.

    expires_in_days: the token stops working that many days from now; None: until revoked.
    Who may ask is the caller's business: a browser session, or the API with the password
    (portal/api/tokens.py) - never a token alone, or a stolen token would outlive revocation.
    """
    name = (name or "").strip() or "token"
    expires_at = None
    if expires_in_days is not None:
        if not 1 <= int(expires_in_days) <= TOKEN_MAX_DAYS:
            raise ValidationError(
                {"expires_in_days": f"Give a number of days between 1 and {TOKEN_MAX_DAYS}."}
            )
        expires_at = timezone.now() + timedelta(days=int(expires_in_days))
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        key_prefix=key[: len(ApiToken.PREFIX) + 6],
        key_hash=ApiToken.hash_key(key),
        expires_at=expires_at,
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor) -> ApiToken:
    if token.user_id != actor.pk:
        raise PermissionDenied("You can only revoke your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
