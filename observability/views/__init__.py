"""Observability views, one module per page family."""
