"""manage.py chorus_prune_images [--dry-run]: remove the images of old builds now.

The same service as the daily `chorus.images.prune` task (deployments/builds/images.py);
prints every image it removes (or, with --dry-run, would remove), keeps or leaves.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from deployments.builds.images import images_prune


class Command(BaseCommand):
    help = (
        "Remove the images of succeeded builds that no live deployment runs, beyond the last "
        "CHORUS_IMAGE_KEEP_BUILDS of each component and older than CHORUS_IMAGE_KEEP_DAYS."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Only print what would be removed."
        )

    def handle(self, *args, dry_run: bool = False, **options):
        summary = images_prune(dry_run=dry_run)
        for line in summary.lines():
            self.stdout.write(line)
