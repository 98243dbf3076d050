"""The deploy REST API: environments, deployments, events, configuration."""
