"""The deployments app's REST API, one module per role: builds, deploy (environments,
deployments, events), config (variables and secrets), executions."""
