"""The one exception every git helper raises."""

from __future__ import annotations


class GitError(Exception):
    """A git command failed; the message is readable and carries no credentials."""
