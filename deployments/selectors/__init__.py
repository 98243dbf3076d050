"""Reads of the deployments app, permission-checked; split by role like services/."""
