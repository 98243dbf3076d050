"""The CLI's side of the API: where it is, who you are, and one request helper.

Settings come from, in order: command-line flags, CHORUS_URL / CHORUS_TOKEN / CHORUS_PROJECT,
then the config file (~/.config/chorus/config.toml, or $XDG_CONFIG_HOME/chorus/config.toml,
or $CHORUS_CONFIG), which `chorus login` writes with mode 0600.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import requests

DEFAULT_URL = "http://127.0.0.1:8000"


class CliError(Exception):
    """One line for stderr and the exit code: 1 for API / network failures, 2 for usage."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class ApiError(CliError):
    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message, 1)
        self.status = status
        self.error_code = code
        self.fields = fields or {}


def config_path() -> Path:
    if os.environ.get("CHORUS_CONFIG"):
        return Path(os.environ["CHORUS_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "chorus" / "config.toml"


def read_config() -> dict:
    path = config_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc


def write_config(values: dict[str, str]) -> Path:
    """Write the config file readable by its owner only (it holds a token)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # json.dumps of a str is a valid TOML basic string (same escapes).
    text = "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items() if value)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT: set it again
    return path


@dataclass
class Settings:
    url: str
    token: str
    project: str


def load_settings(*, url: str | None = None, token: str | None = None) -> Settings:
    config = read_config()
    return Settings(
        url=(url or os.environ.get("CHORUS_URL") or config.get("url") or DEFAULT_URL).rstrip("/"),
        token=token or os.environ.get("CHORUS_TOKEN") or config.get("token") or "",
        project=os.environ.get("CHORUS_PROJECT") or config.get("project") or "",
    )


class Client:
    def __init__(self, settings: Settings, *, timeout: float = 30):
        self.settings = settings
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "chorus-cli/1"
        if settings.token:
            self.session.headers["Authorization"] = f"Bearer {settings.token}"

    def url(self, path: str) -> str:
        return f"{self.settings.url}/api/v1/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, params=None, json_body=None):
        if not self.settings.token:
            raise CliError(
                "not logged in: set CHORUS_TOKEN or run `chorus login --url URL --token TOKEN`"
            )
        try:
            response = self.session.request(
                method, self.url(path), params=params, json=json_body, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise CliError(f"cannot reach Chorus at {self.settings.url}: {_short(exc)}") from exc
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            if response.ok:
                raise CliError(
                    f"unexpected answer from {self.settings.url} (not JSON): is this Chorus?"
                ) from None
            raise ApiError(
                response.status_code, "http_error", f"HTTP {response.status_code} from {path}"
            ) from None
        if not response.ok:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise ApiError(
                response.status_code,
                err.get("code", "error"),
                _message(err) or f"HTTP {response.status_code}",
                err.get("fields"),
            )
        return body

    def get(self, path: str, **params):
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict | None = None):
        return self.request("POST", path, json_body=body or {})

    def get_all(self, path: str, **params) -> list:
        """Every page of a paginated list."""
        results: list = []
        offset = 0
        while True:
            page = self.get(path, limit=200, offset=offset, **params)
            results.extend(page["results"])
            offset += len(page["results"])
            if not page.get("next") or not page["results"]:
                return results


def _message(err: dict) -> str:
    message = err.get("message", "")
    fields = err.get("fields") or {}
    # The first field message is already in `message`; add the others so nothing is hidden.
    extra = []
    for key, value in list(fields.items())[1:]:
        text = value[0] if isinstance(value, list) and value else value
        extra.append(f"{key}: {text}")
    return "; ".join([message, *extra]) if extra else message


def _short(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    return text.splitlines()[0][:200] if text else type(exc).__name__
