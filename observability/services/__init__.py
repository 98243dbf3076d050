"""Observability writes: rollups, retention, alerts (one module per concern)."""
