"""What a git URL and a path inside a repository may be: the checks run when a form is saved.

Without CHORUS_ALLOW_LOCAL_GIT_URLS a URL may not read the server's own disk, and its host may
not be, or resolve to, a loopback, private or link-local address.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from portal import outbound

# scp-like syntax: user@host:path (no scheme). git treats it as ssh.
_SCP_RE = re.compile(r"^[A-Za-z0-9._~-]+@([A-Za-z0-9.-]+):(?!//)")
_NETWORK_SCHEMES = ("https", "http", "ssh", "git")


def is_local_url(url: str) -> bool:
    u = url.strip()
    if u.lower().startswith("file:"):
        return True
    if "://" in u:
        return False
    if _SCP_RE.match(u):
        return False
    # Anything else git accepts is a path on this machine ("/srv/x.git", "../x", "~/x", "C:\\x").
    return True


def validate_git_url(url: str) -> str:
    """Return the stripped URL or raise ValidationError with a message for the form.

    Network URLs (https, http, ssh, git, scp-like user@host:path) are accepted.
    `file://` and plain paths read the server's own disk: only with
    settings.CHORUS_ALLOW_LOCAL_GIT_URLS (on in development, off in production). Without it,
    a network URL whose host is or resolves to a loopback, private or link-local address is
    refused too, and so is a host name that does not resolve.
    """
    u = (url or "").strip()
    if not u:
        raise ValidationError("Enter a git URL.", code="required")
    if u.startswith("-") or any(c in u for c in "\n\r\t\0 "):
        raise ValidationError("That is not a git URL.", code="invalid")
    lowered = u.lower()
    if "::" in u.split("://", 1)[0]:
        # ext::, fd:: and other remote helpers can run arbitrary commands.
        raise ValidationError("Remote helper URLs (like ext::) are not allowed.", code="invalid")
    if is_local_url(u):
        if not getattr(settings, "CHORUS_ALLOW_LOCAL_GIT_URLS", False):
            raise ValidationError(
                "Local repositories (file:// URLs and paths on the server) are not allowed "
                "here; use an https:// or ssh:// URL.",
                code="local",
            )
        return u
    scheme = lowered.split("://", 1)[0] if "://" in lowered else "ssh"
    if scheme not in _NETWORK_SCHEMES:
        raise ValidationError(
            f"Unsupported URL scheme “{scheme}”; use https://, ssh:// or git://.", code="invalid"
        )
    _refuse_credentials(u, scheme)
    if not getattr(settings, "CHORUS_ALLOW_LOCAL_GIT_URLS", False):
        _refuse_private_host(url_host(u))
    return u


CREDENTIAL_REFUSAL = (
    "This git URL carries a credential ({what}). Chorus keeps a component's URL in clear and "
    "shows it to every member of the project, in build logs and in the API, so it is not "
    "accepted. For a private GitHub (or GitHub Enterprise) repository, connect the account "
    "under GitHub connections (its token is stored encrypted and never shown) and pick the "
    "repository from there; otherwise use the URL without the credential."
)


def _refuse_credentials(url: str, scheme: str) -> None:
    """A password (or, over http(s)/git, a user name, which GitHub accepts as a token) in the
    URL is refused: ssh's user name (git@host) is not a secret."""
    if "://" not in url:
        return  # scp-like user@host:path carries a user name only
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return
    if password is not None:
        raise ValidationError(CREDENTIAL_REFUSAL.format(what="user:password@"), code="credential")
    if user and scheme in ("http", "https", "git"):
        raise ValidationError(
            CREDENTIAL_REFUSAL.format(what="a user or token before @"), code="credential"
        )


def strip_credentials(url: str) -> str:
    """The URL without what `_refuse_credentials` refuses (for rows saved before it did)."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    authority, sep, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        return url
    if scheme.lower() == "ssh":
        user = userinfo.split(":", 1)[0]
        return f"{scheme}://{user}@{hostport}{sep}{path}"
    return f"{scheme}://{hostport}{sep}{path}"


def url_host(url: str) -> str:
    scp = _SCP_RE.match(url)
    if scp and "://" not in url:
        return scp.group(1)
    try:
        host = urlsplit(url).hostname
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        host = None
    if not host:
        raise ValidationError("That git URL has no host name.", code="invalid")
    return host


def local_hosts_allowed() -> bool:
    return bool(getattr(settings, "CHORUS_ALLOW_LOCAL_GIT_URLS", False))


def checked_addresses(
    host: str,
    *,
    what: str = "git host",
    things: str = "repositories",
    field: str = "git URL",
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Resolve `host` once and return its addresses, or raise ValidationError when it is, or
    resolves to, a refused address (portal/outbound.py; one such answer is enough) or does
    not resolve. Callers that connect afterwards must connect to exactly these addresses, or
    DNS could answer differently the second time (rebinding)."""
    try:
        return outbound.check_host(host)
    except outbound.Refused as refused:
        if refused.ip is None:
            raise ValidationError(
                f"Cannot resolve host “{host}”: check the host name in the {field}.",
                code="unresolvable",
            ) from None
        raise ValidationError(
            f"The {what} {refused.where} is a loopback, private or link-local address; "
            f"{things} on the server's own network are not allowed here. "
            "Use a public host (an operator can allow them with "
            "CHORUS_ALLOW_LOCAL_GIT_URLS=true).",
            code="private",
        ) from None


def _refuse_private_host(host: str) -> None:
    """Raise ValidationError when `host` is, or resolves to, a private address. Runs when a
    URL is saved; `pin_remote` checks again, and pins the answer, right before git connects."""
    checked_addresses(host)


def normalize_path(path: str) -> str:
    """'./tasks/x/' -> 'tasks/x'; refuses absolute paths and '..'."""
    p = (path or "").strip().replace("\\", "/").strip("/")
    parts = [part for part in PurePosixPath(p).parts if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise ValidationError("The path must stay inside the repository (no “..”).")
    return "/".join(parts)
