"""Observability reads: overview, dashboard, executions explorer, links between them."""
