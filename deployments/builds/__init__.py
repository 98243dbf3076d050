"""Builds: one commit becomes one image."""
