from __future__ import annotations

import json
import urllib.parse

from ._support import run_sample, send

CONTEXT = {
    "CHORUS_EXECUTION_ID": "96",
    "CHORUS_ATTEMPT": "1",
    "CHORUS_SCHEDULED_AT": "2024-05-06T09:00:00+00:00",
}
TOKEN = "ghp_sampletoken123"


def issue(number: int, repo: str, state: str, *, pull_request: bool = False) -> dict:
    """An item shaped like GitHub's search/issues answer (trimmed to what matters)."""
    item = {
        "url": f"https://api.github.com/repos/{repo}/issues/{number}",
        "repository_url": f"https://api.github.com/repos/{repo}",
        "html_url": f"https://github.com/{repo}/issues/{number}",
        "number": number,
        "title": f"Item {number}",
        "state": state,
        "user": {"login": "octocat", "id": 1},
        "comments": 0,
    }
    if pull_request:
        item["pull_request"] = {"url": f"https://api.github.com/repos/{repo}/pulls/{number}"}
    return item


ITEMS = (
    [issue(n, "acme/widgets", "open") for n in range(1, 4)]
    + [issue(n, "acme/widgets", "closed") for n in range(4, 9)]
    + [issue(n, "acme/widgets", "open", pull_request=True) for n in range(9, 11)]
    + [issue(11, "acme/widgets", "closed", pull_request=True)]
    + [issue(n, "acme/other", "open") for n in range(1, 6)]
)


def fake_github(handler) -> None:
    """GitHub's /search/issues: filters on repo:, type:, is: and state: like the real one."""
    parsed = urllib.parse.urlsplit(handler.path)
    if parsed.path != "/search/issues":
        send(handler, 404, json.dumps({"message": "Not Found"}).encode())
        return
    params = urllib.parse.parse_qs(parsed.query)
    terms = dict(term.split(":", 1) for term in params["q"][0].split())
    repo = terms.get("repo")
    if not any(item["repository_url"].endswith(f"/repos/{repo}") for item in ITEMS):
        body = {
            "message": "Validation Failed",
            "errors": [
                {
                    "message": "The listed users and repositories cannot be searched either "
                    "because the resources do not exist or you do not have permission to "
                    "view them.",
                    "resource": "Search",
                    "field": "q",
                    "code": "invalid",
                }
            ],
            "documentation_url": "https://docs.github.com/v3/search/",
            "status": "422",
        }
        send(handler, 422, json.dumps(body).encode())
        return
    kind = terms.get("type") or terms.get("is")
    matches = [
        item
        for item in ITEMS
        if item["repository_url"].endswith(f"/repos/{repo}")
        and ("state" not in terms or item["state"] == terms["state"])
        and (kind is None or (kind == "pr") == ("pull_request" in item))
    ]
    per_page = int(params.get("per_page", ["30"])[0])
    body = {"total_count": len(matches), "incomplete_results": False, "items": matches[:per_page]}
    send(handler, 200, json.dumps(body).encode())


def chat_ok(handler) -> None:
    send(handler, 200, b"ok", "text/plain")


def test_posts_issue_counts_by_state_to_the_chat_webhook(http_server):
    github = http_server(fake_github)
    chat = http_server(chat_ok)

    run = run_sample(
        "github-issues-summary",
        {
            **CONTEXT,
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": "acme/widgets",
            "GITHUB_TOKEN": TOKEN,
            "CHAT_WEBHOOK_URL": f"{chat.url}/hooks/T000/B000",
        },
    )

    assert run.returncode == 0, run.output
    assert run.lines[0] == (
        "Starting github-issues-summary (execution 96, attempt 1, "
        "scheduled at 2024-05-06T09:00:00+00:00)"
    )
    # Pull requests (3) and the other repository's issues (5) are not counted.
    expected = "Issues in acme/widgets: 3 open, 5 closed (8 total)"
    assert expected in run.lines
    assert [request["method"] for request in chat.requests] == ["POST"]
    posted = chat.requests[0]
    assert posted["path"] == "/hooks/T000/B000"
    assert posted["headers"]["Content-Type"] == "application/json"
    assert json.loads(posted["body"]) == {"text": expected}
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in github.requests)
    assert TOKEN not in run.output


def test_works_without_a_token_for_public_repositories(http_server):
    github = http_server(fake_github)
    chat = http_server(chat_ok)

    run = run_sample(
        "github-issues-summary",
        {
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": "acme/other",
            "CHAT_WEBHOOK_URL": chat.url,
        },
    )

    assert run.returncode == 0, run.output
    assert run.lines[0].startswith("Starting github-issues-summary (execution manual, attempt 1")
    assert json.loads(chat.requests[0]["body"]) == {
        "text": "Issues in acme/other: 5 open, 0 closed (5 total)"
    }
    assert all("Authorization" not in r["headers"] for r in github.requests)


def test_unknown_repository_fails_with_githubs_reason_and_posts_nothing(http_server):
    github = http_server(fake_github)
    chat = http_server(chat_ok)

    run = run_sample(
        "github-issues-summary",
        {
            **CONTEXT,
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": "acme/missing",
            "CHAT_WEBHOOK_URL": chat.url,
        },
    )

    assert run.returncode == 1
    assert "GitHub refused the open-issue search for acme/missing: HTTP 422: Validation Failed" in (
        run.stderr
    )
    assert "cannot be searched" in run.stderr
    assert chat.requests == []


def test_webhook_refusal_fails_the_run(http_server):
    github = http_server(fake_github)
    chat = http_server(lambda handler: send(handler, 404, b"no_service", "text/plain"))

    run = run_sample(
        "github-issues-summary",
        {
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": "acme/widgets",
            "CHAT_WEBHOOK_URL": chat.url,
        },
    )

    assert run.returncode == 1
    assert "the chat webhook refused the message: HTTP 404 no_service" in run.stderr
    assert len(chat.requests) == 1


def test_missing_or_invalid_settings_exit_2_before_calling_anyone(http_server):
    github = http_server(fake_github)
    no_webhook = run_sample(
        "github-issues-summary", {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "acme/widgets"}
    )
    bad_repository = run_sample(
        "github-issues-summary",
        {
            "GITHUB_API_URL": github.url,
            "GITHUB_REPOSITORY": "acme widgets",
            "CHAT_WEBHOOK_URL": "http://127.0.0.1:9/",
        },
    )
    no_repository = run_sample("github-issues-summary", {"CHAT_WEBHOOK_URL": "http://127.0.0.1:9/"})

    assert no_webhook.returncode == 2
    assert no_webhook.stderr.startswith("Error: CHAT_WEBHOOK_URL is not set")
    assert bad_repository.returncode == 2
    assert (
        "GITHUB_REPOSITORY must look like owner/name, got 'acme widgets'" in bad_repository.stderr
    )
    assert no_repository.returncode == 2
    assert no_repository.stderr.startswith("Error: GITHUB_REPOSITORY is not set")
    assert github.requests == []
