"""Real git, run as a subprocess: ls-remote, shallow fetch at an exact commit, tree listings.

Every call runs with a timeout, without a terminal prompt, with the transports restricted
(`GIT_ALLOW_PROTOCOL`) so a URL cannot reach `ext::` helpers or, in production, the server's
own disk. Credentials never appear in argv, in `.git/config` or in error messages: they go
in through `GIT_CONFIG_*` environment variables as an `http.extraHeader`. Without
CHORUS_ALLOW_LOCAL_GIT_URLS, `pin_remote` keeps every fetch on the addresses that were checked
(no DNS rebinding, no HTTP redirects).

- `validation`: what a git URL, its host and a path in the repository may be;
- `pinning`: the URL and `-c` options that keep git on the checked addresses;
- `commands`: running git (`run_git`) and the credentials it carries (`Auth`);
- `remote`: ls-remote and fetching one commit;
- `worktree`: reading what was fetched.
"""

from __future__ import annotations

from .commands import DEFAULT_TIMEOUT, Auth, run_git
from .errors import GitError
from .pinning import Remote, pin_remote
from .remote import SHA_RE, branches_of, fetch_commit, ls_remote, match_ref
from .validation import (
    checked_addresses,
    is_local_url,
    normalize_path,
    strip_credentials,
    validate_git_url,
)
from .worktree import checkout, commit_message, list_dir, path_kind, read_blob, scratch_dir

__all__ = [
    "DEFAULT_TIMEOUT",
    "SHA_RE",
    "Auth",
    "GitError",
    "Remote",
    "branches_of",
    "checked_addresses",
    "checkout",
    "commit_message",
    "fetch_commit",
    "is_local_url",
    "list_dir",
    "ls_remote",
    "match_ref",
    "normalize_path",
    "path_kind",
    "pin_remote",
    "read_blob",
    "run_git",
    "scratch_dir",
    "strip_credentials",
    "validate_git_url",
]
