"""Runtimes: see base.py for the interface. `get_runtime(environment)` picks one."""

from __future__ import annotations

from .base import BuildError, BuiltImage, Limits, RunResult, Runtime, RuntimeUnavailable

__all__ = ["BuildError", "BuiltImage", "Limits", "RunResult", "Runtime", "RuntimeUnavailable"]
