"""manage.py chorus_environment <slug> [--docker-host URL] [--docker-network NAME]
[--queue NAME]: where an environment's runs go (docs/scaling.md). Without options it prints
the current values."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from deployments.environments import environment_set_hosting, queue_for
from deployments.models import Environment


class Command(BaseCommand):
    help = "Show or set an environment's Docker engine and the Celery queue of its runs."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the environment, e.g. prod")
        parser.add_argument("--docker-host", help='its engine ("" for DOCKER_HOST)')
        parser.add_argument(
            "--docker-network", help='its task network ("" for CHORUS_DOCKER_NETWORK)'
        )
        parser.add_argument("--queue", help='queue of its runs ("" for executions)')

    def handle(
        self, *args, slug: str, docker_host=None, docker_network=None, queue=None, **options
    ):
        environment = Environment.objects.filter(slug=slug).first()
        if environment is None:
            slugs = ", ".join(Environment.objects.values_list("slug", flat=True))
            raise CommandError(f"No environment “{slug}”; there are: {slugs}.")
        if (docker_host, docker_network, queue) != (None, None, None):
            try:
                environment_set_hosting(
                    environment=environment,
                    docker_host=docker_host,
                    docker_network=docker_network,
                    queue=queue,
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"{environment.name}: engine {environment.docker_host or 'DOCKER_HOST'}, "
            f"network {environment.docker_network or 'CHORUS_DOCKER_NETWORK'}, "
            f"queue {queue_for(environment)}"
        )
