"""Real git, run as a subprocess: ls-remote, shallow fetch at an exact commit, tree listings.

Every call runs with a timeout, without a terminal prompt, with the transports restricted
(`GIT_ALLOW_PROTOCOL`) so a URL cannot reach `ext::` helpers or, in production, the server's
own disk. Credentials never appear in argv, in `.git/config` or in error messages: they go
in through `GIT_CONFIG_*` environment variables as an `http.extraHeader`. Without
CHORUS_ALLOW_LOCAL_GIT_URLS, `pin_remote` keeps every fetch on the addresses that were checked
(no DNS rebinding, no HTTP redirects).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# scp-like syntax: user@host:path (no scheme). git treats it as ssh.
_SCP_RE = re.compile(r"^[A-Za-z0-9._~-]+@([A-Za-z0-9.-]+):(?!//)")
_NETWORK_SCHEMES = ("https", "http", "ssh", "git")
# Without CHORUS_ALLOW_LOCAL_GIT_URLS a git host may not be the server itself or the networks
# around it: a user could otherwise make Chorus fetch from (and probe) internal services.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",  # loopback
        "::1/128",
        "0.0.0.0/8",  # "this host": connecting to 0.0.0.0 reaches the server itself
        "::/128",
        "10.0.0.0/8",  # private
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "169.254.0.0/16",  # link-local (cloud metadata services live here)
        "fe80::/10",
    )
)

DEFAULT_TIMEOUT = 120


class GitError(Exception):
    """A git command failed; the message is readable and carries no credentials."""


@dataclass(frozen=True)
class Auth:
    """HTTP credentials for a git remote (GitHub: user x-access-token + the token)."""

    username: str
    password: str

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Authorization: Basic " + base64.b64encode(raw).decode()


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
    if not getattr(settings, "CHORUS_ALLOW_LOCAL_GIT_URLS", False):
        _refuse_private_host(_url_host(u))
    return u


def _url_host(url: str) -> str:
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


def _is_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _PRIVATE_NETWORKS)


def _local_hosts_allowed() -> bool:
    return bool(getattr(settings, "CHORUS_ALLOW_LOCAL_GIT_URLS", False))


def checked_addresses(
    host: str,
    *,
    what: str = "git host",
    things: str = "repositories",
    field: str = "git URL",
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Resolve `host` once and return its addresses, or raise ValidationError when it is, or
    resolves to, a loopback/private/link-local address (one private answer is enough) or does
    not resolve. Callers that connect afterwards must connect to exactly these addresses, or
    DNS could answer differently the second time (rebinding)."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise ValidationError(
                f"Cannot resolve host “{host}”: check the host name in the {field}.",
                code="unresolvable",
            ) from None
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
    for ip in addresses:
        if _is_private(ip):
            where = host if str(ip) == host else f"{host} ({ip})"
            raise ValidationError(
                f"The {what} {where} is a loopback, private or link-local address; "
                f"{things} on the server's own network are not allowed here. "
                "Use a public host (an operator can allow them with "
                "CHORUS_ALLOW_LOCAL_GIT_URLS=true).",
                code="private",
            )
    return addresses


def _refuse_private_host(host: str) -> None:
    """Raise ValidationError when `host` is, or resolves to, a private address. Runs when a
    URL is saved; `pin_remote` checks again, and pins the answer, right before git connects."""
    checked_addresses(host)


# --- the address git connects to ------------------------------------------------------------
# A host name is only a safe thing to hand to git when git will connect to the addresses that
# were checked: resolving again lets a DNS server answer a public address to the check and
# 127.0.0.1 to git (rebinding), and an HTTP redirect can send git anywhere.
_PLAIN_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Remote:
    """The URL to give git and the `-c key=value` options that keep it on checked addresses."""

    url: str
    config: tuple[tuple[str, str], ...] = ()

    def args(self) -> list[str]:
        out: list[str] = []
        for key, value in self.config:
            out += ["-c", f"{key}={value}"]
        return out


def pin_remote(url: str) -> Remote:
    """Resolve the URL's host once, refuse private answers, and make git use those answers.

    - http(s): `http.curloptResolve=<host>:<port>:<addresses>` (libcurl uses it instead of
      DNS) and `http.followRedirects=false` (git's default, `initial`, follows a redirect of
      the first request to any host);
    - git://: the URL's host is replaced by the checked address literal;
    - ssh (ssh:// and user@host:path): checked again here, but ssh resolves the name itself,
      so a window of milliseconds remains (see docs/components.md).

    With CHORUS_ALLOW_LOCAL_GIT_URLS (development, tests) and for local URLs the URL is
    returned as it is, without options. Raises GitError with the refusal.
    """
    if _local_hosts_allowed() or is_local_url(url):
        return Remote(url)
    scheme = url.split("://", 1)[0].lower() if "://" in url else "ssh"
    port: int | None = None
    try:
        host = _url_host(url)
        if scheme in ("http", "https", "git"):
            try:
                port = urlsplit(url).port
            except ValueError:
                raise ValidationError("That git URL has an invalid port.") from None
        addresses = checked_addresses(host)
    except ValidationError as exc:
        raise GitError(" ".join(exc.messages)) from None
    if scheme in ("http", "https"):
        config = [("http.followRedirects", "false")]
        if not _is_ip_literal(host):
            if not _PLAIN_HOST_RE.match(host):
                # libcurl normalises names (IDN, a trailing dot) before looking the pin up; a
                # name it would not match exactly would be resolved again, unchecked.
                raise GitError(
                    f"The git host “{host}” is not a plain ASCII host name; "
                    "use its xn-- form without a trailing dot."
                )
            port = port or (443 if scheme == "https" else 80)
            pinned = ",".join(f"[{ip}]" if ip.version == 6 else str(ip) for ip in addresses)
            config.insert(0, ("http.curloptResolve", f"{host}:{port}:{pinned}"))
        return Remote(url, tuple(config))
    if scheme == "git" and not _is_ip_literal(host):
        ip = addresses[0]
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        parts = urlsplit(url)
        netloc = f"{literal}:{port}" if port else literal
        return Remote(urlunsplit(parts._replace(netloc=netloc)))
    return Remote(url)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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


def ls_remote(url: str, *, auth: Auth | None = None, timeout: float = 60) -> dict[str, str]:
    """All refs of the remote: {"HEAD": sha, "refs/heads/main": sha, ...} (tags peeled)."""
    remote = pin_remote(url)
    out = run_git(
        [*remote.args(), "ls-remote", "--", remote.url],
        auth=auth,
        timeout=timeout,
        what="git ls-remote",
    )
    refs: dict[str, str] = {}
    for line in out.splitlines():
        if "\t" not in line:
            continue
        sha, name = line.split("\t", 1)
        if name.endswith("^{}"):
            # The peeled commit of an annotated tag wins over the tag object.
            refs[name[:-3]] = sha
        else:
            refs.setdefault(name, sha)
    return refs


def branches_of(refs: dict[str, str]) -> list[str]:
    return sorted(n[len("refs/heads/") :] for n in refs if n.startswith("refs/heads/"))


def match_ref(refs: dict[str, str], ref: str) -> str | None:
    """The commit `ref` names: a branch, a tag, a full ref name, or HEAD when empty."""
    ref = ref.strip()
    if not ref or ref == "HEAD":
        return refs.get("HEAD")
    candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    for candidate in candidates:
        if candidate in refs:
            return refs[candidate]
    return None


def normalize_path(path: str) -> str:
    """'./tasks/x/' -> 'tasks/x'; refuses absolute paths and '..'."""
    p = (path or "").strip().replace("\\", "/").strip("/")
    parts = [part for part in PurePosixPath(p).parts if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise ValidationError("The path must stay inside the repository (no “..”).")
    return "/".join(parts)


@contextmanager
def scratch_dir(prefix: str = "chorus-git-") -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def fetch_commit(
    url: str,
    sha_or_ref: str,
    repo_dir: Path,
    *,
    auth: Auth | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    log: Callable[[str], None] | None = None,
) -> str:
    """Init `repo_dir` and fetch one commit into it (shallow when the server allows).

    Returns the full commit SHA. A server that refuses fetching a SHA directly gets a full
    fetch of its branches and tags, then the commit is looked up locally.
    """
    remote = pin_remote(url)  # once: both fetches below go to the same checked addresses
    repo_dir.mkdir(parents=True, exist_ok=True)
    run_git(["init", "-q", str(repo_dir)], timeout=30, what="git init")
    try:
        run_git(
            [
                *remote.args(),
                "fetch",
                "-q",
                "--depth",
                "1",
                "--no-tags",
                "--",
                remote.url,
                sha_or_ref,
            ],
            cwd=repo_dir,
            auth=auth,
            timeout=timeout,
            what="Fetching the commit",
        )
        target = "FETCH_HEAD"
    except GitError:
        if not SHA_RE.match(sha_or_ref):
            raise
        if log:
            log("The server refused a shallow fetch of one commit; fetching the branches instead")
        run_git(
            [
                *remote.args(),
                "fetch",
                "-q",
                "--no-tags",
                "--",
                remote.url,
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            cwd=repo_dir,
            auth=auth,
            timeout=timeout,
            what="Fetching the repository",
        )
        target = sha_or_ref
    try:
        return run_git(
            ["rev-parse", "--verify", "--quiet", f"{target}^{{commit}}"],
            cwd=repo_dir,
            timeout=30,
            what="Finding the commit",
        ).strip()
    except GitError:
        raise GitError(f"Commit {sha_or_ref} is not in the repository") from None


def commit_message(repo_dir: Path, sha: str) -> str:
    return run_git(["log", "-1", "--format=%s", sha], cwd=repo_dir, timeout=30).strip()


def path_kind(repo_dir: Path, sha: str, path: str) -> str | None:
    """'tree', 'blob' or None when `path` does not exist at `sha` ('' is the root)."""
    if not path:
        return "tree"
    try:
        return run_git(["cat-file", "-t", f"{sha}:{path}"], cwd=repo_dir, timeout=30).strip()
    except GitError:
        return None


def list_dir(repo_dir: Path, sha: str, path: str) -> list[str]:
    """Names directly inside `path` at `sha` (directories end with '/')."""
    spec = f"{sha}:{path}" if path else f"{sha}^{{tree}}"
    out = run_git(["ls-tree", spec], cwd=repo_dir, timeout=30)
    names = []
    for line in out.splitlines():
        meta, name = line.split("\t", 1)
        names.append(name + "/" if meta.split()[1] == "tree" else name)
    return sorted(names)


def read_blob(repo_dir: Path, sha: str, path: str, *, max_bytes: int = 200_000) -> str | None:
    try:
        data = run_git(["cat-file", "blob", f"{sha}:{path}"], cwd=repo_dir, timeout=30)
    except GitError:
        return None
    return data[:max_bytes]


def checkout(repo_dir: Path, sha: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
    run_git(["checkout", "-q", "--detach", sha], cwd=repo_dir, timeout=timeout, what="git checkout")
