"""Running git: a timeout, no terminal prompt, restricted transports, credentials kept out of
argv, `.git/config` and error messages (they go in as an `http.extraHeader` through
`GIT_CONFIG_*` environment variables)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .errors import GitError

DEFAULT_TIMEOUT = 120


@dataclass(frozen=True)
class Auth:
    """HTTP credentials for a git remote (GitHub: user x-access-token + the token)."""

    username: str
    password: str

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Authorization: Basic " + base64.b64encode(raw).decode()


def _allowed_protocols() -> str:
    protos = ["https", "http", "ssh", "git"]
    if getattr(settings, "CHORUS_ALLOW_LOCAL_GIT_URLS", False):
        protos.append("file")
    return ":".join(protos)


def _env(auth: Auth | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR")
        or k.endswith("_PROXY")
        or k.endswith("_proxy")
    }
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
            "GIT_ALLOW_PROTOCOL": _allowed_protocols(),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_AUTHOR_NAME": "Chorus",
            "GIT_AUTHOR_EMAIL": "chorus@localhost",
            "GIT_COMMITTER_NAME": "Chorus",
            "GIT_COMMITTER_EMAIL": "chorus@localhost",
        }
    )
    config = [("advice.detachedHead", "false"), ("init.defaultBranch", "main")]
    if auth is not None:
        config.append(("http.extraHeader", auth.header()))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _scrub(text: str, auth: Auth | None) -> str:
    if auth is not None:
        for secret in (auth.password, auth.header()):
            if secret:
                text = text.replace(secret, "••••")
    # Credentials someone typed into a URL (https://user:pass@host) are not echoed back.
    return re.sub(r"(://[^/@\s:]+):[^/@\s]+@", r"\1:••••@", text)


def run_git(
    args: list[str],
    *,
    cwd: Path | None = None,
    auth: Auth | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "git",
) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_env(auth),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"{what} did not finish within {int(timeout)} seconds") from None
    except FileNotFoundError:
        raise GitError("git is not installed on the server") from None
    if proc.returncode != 0:
        detail = _last_lines(_scrub(proc.stderr or proc.stdout, auth))
        raise GitError(f"{what} failed: {detail}" if detail else f"{what} failed")
    return proc.stdout


def _last_lines(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("hint:")]
    return " ".join(lines[-n:])
