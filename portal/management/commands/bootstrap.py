"""Create the first admin user and a demo project if none exist; print how to log in."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from portal.models import Project
from portal.services import project_create


class Command(BaseCommand):
    help = "Create the first admin user and a demo project (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default=settings.CHORUS_BASE_URL)

    def handle(self, *args, username: str, url: str, **options):
        User = get_user_model()
        cred_file = settings.VAR_DIR / "admin_password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username, f"{username}@localhost", password)
            cred_file.write_text(password)
            cred_file.chmod(0o600)
            self.stdout.write(f"Created admin user “{username}”.")
        else:
            password = cred_file.read_text().strip() if cred_file.exists() else "(unchanged)"
        if not Project.objects.exists():
            project_create(name="Demo", description="A first project to try Chorus.", actor=user)
            self.stdout.write("Created the Demo project.")
        self.stdout.write(
            self.style.SUCCESS(f"Chorus is at {url}/  —  log in as {username} / {password}")
        )
