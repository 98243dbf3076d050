"""Deploy: deployments, promotion, configuration and secrets."""
