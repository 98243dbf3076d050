"""Split by role: builds, deploy (deployments, promotion, config), executions."""
