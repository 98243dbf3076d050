"""The address git connects to: the one that was checked (no DNS rebinding, no HTTP redirects)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError

from .errors import GitError
from .validation import checked_addresses, is_local_url, local_hosts_allowed, url_host

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
    if local_hosts_allowed() or is_local_url(url):
        return Remote(url)
    scheme = url.split("://", 1)[0].lower() if "://" in url else "ssh"
    port: int | None = None
    try:
        host = url_host(url)
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
