"""Chorus sample: count a GitHub repository's issues by state and post the summary to chat.

Counts come from the GitHub search API (`total_count` of `repo:X type:issue state:open` and
`state:closed`): two requests whatever the repository's size, and pull requests are left
out by `type:issue`. The summary goes to a Slack-compatible webhook as `{"text": "..."}`.

With neither GITHUB_REPOSITORY nor CHAT_WEBHOOK_URL set, the run summarises the bundled demo
counts (demo-counts.json, beside this file) and writes the summary to its log instead of
posting it, and the log says so: a first deploy with no configuration runs successfully.

Exit codes: 0 posted (or, in the demo, logged), 1 GitHub or the webhook failed, 2 missing or invalid settings.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

SAMPLE = "github-issues-summary"
USER_AGENT = "chorus-sample-github-issues-summary/1.0"
REQUEST_TIMEOUT = 30
DEMO_UNLESS_SET = ("GITHUB_REPOSITORY", "CHAT_WEBHOOK_URL")
DEMO_COUNTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo-counts.json")
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it."""


class RemoteError(Exception):
    """GitHub or the webhook did not answer as expected; the message says how."""


def log(message: str, level: str = "info") -> None:
    """Info as plain text; other levels as a JSON line, which Chorus stores with its level."""
    if level == "info":
        print(message, flush=True)
    else:
        print(json.dumps({"level": level, "message": message}), flush=True)


def announce_start() -> None:
    execution = os.environ.get("CHORUS_EXECUTION_ID") or "manual"
    attempt = os.environ.get("CHORUS_ATTEMPT") or "1"
    scheduled = os.environ.get("CHORUS_SCHEDULED_AT") or "not scheduled"
    log(f"Starting {SAMPLE} (execution {execution}, attempt {attempt}, scheduled at {scheduled})")


def http_url(name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {value!r}")
    return value


def read_settings(env: dict[str, str]) -> dict[str, str]:
    repository = env.get("GITHUB_REPOSITORY", "").strip()
    if not repository:
        raise SettingsError(
            "GITHUB_REPOSITORY is not set; set it to owner/name, e.g. octocat/hello-world"
        )
    if not REPOSITORY_PATTERN.match(repository):
        raise SettingsError(f"GITHUB_REPOSITORY must look like owner/name, got {repository!r}")

    api_url = env.get("GITHUB_API_URL", "").strip() or "https://api.github.com"
    webhook_url = env.get("CHAT_WEBHOOK_URL", "").strip()
    if not webhook_url:
        raise SettingsError(
            "CHAT_WEBHOOK_URL is not set; set it to your chat's incoming-webhook URL"
        )
    return {
        "repository": repository,
        "api_url": http_url("GITHUB_API_URL", api_url).rstrip("/"),
        "webhook_url": http_url("CHAT_WEBHOOK_URL", webhook_url),
        "token": env.get("GITHUB_TOKEN", "").strip(),
    }


def github_error_message(error: urllib.error.HTTPError) -> str:
    """GitHub explains failures in a JSON `message` (and sometimes `errors`); surface it."""
    try:
        body = json.loads(error.read(64 * 1024) or b"{}")
    except ValueError:
        body = {}
    finally:
        error.close()
    message = body.get("message") if isinstance(body, dict) else None
    details = [
        item.get("message")
        for item in (body.get("errors") or [] if isinstance(body, dict) else [])
        if isinstance(item, dict) and item.get("message")
    ]
    text = f"HTTP {error.code}"
    if message:
        text += f": {message}"
    if details:
        text += f" ({'; '.join(details)})"
    return text


def count_issues(settings: dict[str, str], state: str) -> tuple[int, bool]:
    """Return (total_count, incomplete_results) for issues of one state."""
    query = f"repo:{settings['repository']} type:issue state:{state}"
    url = f"{settings['api_url']}/search/issues?" + urllib.parse.urlencode(
        {"q": query, "per_page": "1"}
    )
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": USER_AGENT,
    }
    if settings["token"]:
        headers["Authorization"] = f"Bearer {settings['token']}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            payload = json.load(response)
    except urllib.error.HTTPError as error:
        raise RemoteError(
            f"GitHub refused the {state}-issue search for {settings['repository']}: "
            f"{github_error_message(error)}"
        ) from None
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise RemoteError(f"cannot reach GitHub at {settings['api_url']}: {reason}") from None
    except ValueError:
        raise RemoteError("GitHub answered with something that is not JSON") from None

    total = payload.get("total_count") if isinstance(payload, dict) else None
    if not isinstance(total, int):
        raise RemoteError("GitHub's search answer has no total_count")
    return total, bool(payload.get("incomplete_results"))


def post_to_chat(webhook_url: str, text: str) -> None:
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(
        webhook_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        detail = error.read(500).decode(errors="replace").strip()
        error.close()
        raise RemoteError(
            f"the chat webhook refused the message: HTTP {error.code}"
            + (f" {detail}" if detail else "")
        ) from None
    except (OSError, http.client.HTTPException) as error:
        raise RemoteError(
            f"cannot reach the chat webhook: {getattr(error, 'reason', error)}"
        ) from None


def demo() -> int:
    with open(DEMO_COUNTS, encoding="utf-8") as handle:
        counts = json.load(handle)
    log(
        "GITHUB_REPOSITORY and CHAT_WEBHOOK_URL are not set: summarising the bundled demo "
        "counts (demo-counts.json) and writing the summary to this log instead of posting it. "
        "Set both to summarise a real repository in your chat."
    )
    open_count, closed_count = counts["open"], counts["closed"]
    log(
        f"Issues in {counts['repository']}: {open_count} open, {closed_count} closed "
        f"({open_count + closed_count} total)"
    )
    return 0


def main() -> int:
    announce_start()
    if not any(os.environ.get(name, "").strip() for name in DEMO_UNLESS_SET):
        return demo()
    try:
        settings = read_settings(dict(os.environ))
    except SettingsError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 2

    repository = settings["repository"]
    log(f"Counting issues of {repository} via {settings['api_url']}")
    try:
        open_count, open_incomplete = count_issues(settings, "open")
        closed_count, closed_incomplete = count_issues(settings, "closed")
        if open_incomplete or closed_incomplete:
            # GitHub's search timed out internally; the counts are lower bounds.
            log("GitHub reported incomplete search results; counts may be low", "warning")
        text = (
            f"Issues in {repository}: {open_count} open, {closed_count} closed "
            f"({open_count + closed_count} total)"
        )
        log(text)
        post_to_chat(settings["webhook_url"], text)
    except RemoteError as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return 1
    log("Posted the summary to the chat webhook")
    return 0


if __name__ == "__main__":
    sys.exit(main())
