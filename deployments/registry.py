"""The OCI registry every image lives in when CHORUS_REGISTRY is set (docs/scaling.md).

A successful Docker build pushes `<registry>/<project>/<component>:<sha12>` and records the
repository digest as its image: `image_ref = "<repo>@sha256:…"`. Deployments, promotions,
rollbacks, retries and re-runs copy that reference, so every engine pulls exactly those
bytes, by digest; promotion moves no bytes.

The engines push and pull (they speak the registry protocol themselves); Chorus talks to the
registry over its HTTP API (https://distribution.github.io/distribution/spec/api/) only to
check that a manifest is still there before a deploy and to delete manifests in image
clean-up. Credentials (optional): CHORUS_REGISTRY_USERNAME and CHORUS_REGISTRY_PASSWORD, or
CHORUS_REGISTRY_PASSWORD_FILE. Basic and token (Bearer) authentication are both understood.
Every failure is a RegistryError whose message says what happened in words.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import requests

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
DIGEST_REF = re.compile(r"^(?P<host>[^/@]+)/(?P<name>[^@]+)@(?P<digest>sha256:[0-9a-f]{64})$")


class RegistryError(Exception):
    """The registry refused or failed; the message is for users."""


class RegistryUnavailable(RegistryError):
    """The registry does not answer (down, unknown host, timeout)."""


class RegistryAuthError(RegistryError):
    """The registry refused the credentials (or wants some and has none)."""


class ManifestGone(RegistryError):
    """The digest is not in the registry any more (deleted by hand, or by clean-up)."""


def is_registry_ref(ref: str) -> bool:
    """True for `<host>/<name>@sha256:…`, the only form a registry image is referred to by."""
    return bool(DIGEST_REF.match(ref or ""))


def _clean(part: str) -> str:
    part = re.sub(r"[^a-z0-9._-]+", "-", part.lower()).strip("._-")
    return part or "x"


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Registry:
    # "<host[:port]>[/<prefix>]", e.g. "registry.example.com/chorus" or "127.0.0.1:5001/chorus".
    location: str
    username: str = ""
    password: str = ""
    # Plain HTTP instead of HTTPS; None: only for a loopback host (as Docker itself does).
    insecure: bool | None = None
    timeout: float = 5.0

    @property
    def host(self) -> str:
        return self.location.split("/", 1)[0]

    @property
    def scheme(self) -> str:
        insecure = _is_loopback(self.host) if self.insecure is None else self.insecure
        return "http" if insecure else "https"

    def repository(self, *, project: str, component: str) -> str:
        """Where a component's images go: <registry>/<project>/<component>."""
        return f"{self.location.rstrip('/')}/{_clean(project)}/{_clean(component)}"

    def auth_config(self) -> dict | None:
        """Credentials as the Docker engine takes them for a push or a pull."""
        if not self.username:
            return None
        return {"username": self.username, "password": self.password}

    # --- the HTTP API -----------------------------------------------------------------------
    def _request(self, method: str, path: str, *, headers: dict | None = None):
        url = f"{self.scheme}://{self.host}{path}"
        headers = dict(headers or {})
        auth = (self.username, self.password) if self.username else None
        try:
            response = requests.request(method, url, headers=headers, timeout=self.timeout)
            if response.status_code == 401:
                challenge = response.headers.get("WWW-Authenticate", "")
                if challenge.lower().startswith("bearer"):
                    headers["Authorization"] = f"Bearer {self._token(challenge, auth)}"
                    response = requests.request(method, url, headers=headers, timeout=self.timeout)
                elif auth is not None:
                    response = requests.request(
                        method, url, headers=headers, auth=auth, timeout=self.timeout
                    )
        except requests.RequestException as exc:
            raise RegistryUnavailable(
                f"The registry at {self.host} does not answer ({_reason(exc)})."
            ) from exc
        if response.status_code == 401:
            raise RegistryAuthError(
                f"The registry at {self.host} refused Chorus's credentials"
                + (
                    " (check CHORUS_REGISTRY_USERNAME and its password)."
                    if self.username
                    else " (it needs CHORUS_REGISTRY_USERNAME and a password)."
                )
            )
        if response.status_code == 403:
            raise RegistryAuthError(f"The registry at {self.host} forbids this ({path}).")
        return response

    def _token(self, challenge: str, auth) -> str:
        fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = fields.pop("realm", "")
        if not realm:
            raise RegistryError(f"The registry at {self.host} asked for a token without a realm.")
        response = requests.get(realm, params=fields, auth=auth, timeout=self.timeout)
        if response.status_code in (401, 403):
            raise RegistryAuthError(f"The registry at {self.host} refused Chorus's credentials.")
        body = response.json() if response.ok else {}
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(
                f"The registry's token service answered {response.status_code} without a token."
            )
        return token

    def check(self) -> None:
        """Raise unless the registry answers its API root and accepts the credentials."""
        response = self._request("GET", "/v2/")
        if response.status_code != 200:
            raise RegistryError(
                f"The registry at {self.host} answered {response.status_code} at /v2/."
            )

    def _split(self, ref: str) -> tuple[str, str]:
        match = DIGEST_REF.match(ref)
        if not match or match["host"] != self.host:
            raise RegistryError(f"{ref} is not an image of the registry at {self.host}.")
        return match["name"], match["digest"]

    def manifest_exists(self, ref: str) -> bool:
        name, digest = self._split(ref)
        response = self._request(
            "HEAD", f"/v2/{name}/manifests/{digest}", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise RegistryError(
                f"The registry at {self.host} answered {response.status_code} for {ref}."
            )
        return True

    def require(self, ref: str) -> None:
        """Raise ManifestGone (or why it cannot tell) unless `ref` is in the registry."""
        if not self.manifest_exists(ref):
            raise ManifestGone(
                f"The image {ref} is gone from the registry at {self.host} (deleted there?); "
                "build the component again."
            )

    def delete(self, ref: str) -> bool:
        """Delete the manifest `ref`; False when it was already gone."""
        name, digest = self._split(ref)
        response = self._request("DELETE", f"/v2/{name}/manifests/{digest}")
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 202):
            detail = response.text.strip()[:200]
            raise RegistryError(
                f"The registry at {self.host} did not delete {ref} "
                f"({response.status_code}{': ' + detail if detail else ''})."
            )
        return True


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connection refused"
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if "Name or service not known" in text or "NameResolution" in text:
        return "unknown host name"
    return type(exc).__name__


def registry_from_settings() -> Registry | None:
    """The configured registry, or None (images stay on the engine that built them)."""
    from django.conf import settings

    location = (getattr(settings, "CHORUS_REGISTRY", "") or "").strip().strip("/")
    if not location:
        return None
    return Registry(
        location=location,
        username=settings.CHORUS_REGISTRY_USERNAME,
        password=settings.CHORUS_REGISTRY_PASSWORD,
        insecure=settings.CHORUS_REGISTRY_INSECURE,
    )


def registry_for_ref(ref: str) -> Registry | None:
    """The registry `ref` lives in: the configured one when it is that host (with its
    credentials), else None (not a registry reference, or one from a registry since replaced)."""
    match = DIGEST_REF.match(ref or "")
    registry = registry_from_settings()
    if not match or registry is None or registry.host != match["host"]:
        return None
    return registry
