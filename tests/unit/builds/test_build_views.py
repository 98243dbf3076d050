"""The build pages as a user meets them: Build button, reuse, permissions, live log, cancel."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from deployments.models import Build, BuildLogLine

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_second_click_reuses_the_queued_build(
    client_for, bob, build_urls, django_capture_on_commit_callbacks
):
    client = client_for(bob)
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        first = client.post(build_urls()["queue"], follow=True)
        second = client.post(build_urls()["queue"], follow=True)

    builds = list(Build.objects.all())
    assert len(builds) == 1, "a second click must not queue a second build"
    build = builds[0]
    assert build.status == Build.Status.QUEUED
    assert build.triggered_by == bob
    assert len(enqueued) == 1, "only the first click enqueues a task"
    detail = build_urls(build)["detail"]
    assert first.redirect_chain[-1][0] == detail
    assert second.redirect_chain[-1][0] == detail
    assert any("queued for commit" in m for m in messages_of(first))
    reuse = " ".join(messages_of(second))
    assert "already queued" in reuse and f"#{build.pk}" in reuse
    assert "instead of queueing another" in second.content.decode()


def test_a_running_build_of_the_same_commit_is_reused_too(
    client_for, alice, build_urls, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=False):
        client.post(build_urls()["queue"])
    Build.objects.update(status=Build.Status.RUNNING, started_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = client.post(build_urls()["queue"], follow=True)
    assert Build.objects.count() == 1 and not enqueued
    assert "already running" in " ".join(messages_of(response))


@pytest.mark.parametrize(("who", "status"), [("viewer", 403), ("outsider", 404)])
def test_only_developers_and_owners_can_build(
    client_for, users_by_role, build_urls, who, status, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = client_for(users_by_role[who]).post(build_urls()["queue"])
    assert response.status_code == status
    assert Build.objects.count() == 0 and not enqueued


def test_viewer_sees_builds_but_no_build_button(client_for, carol, make_build, build_urls):
    build = make_build()
    response = client_for(carol).get(build_urls()["queue"])
    assert response.status_code == 200
    page = response.content.decode()
    assert f"#{build.pk}" in page
    assert 'id="build-button"' not in page
    detail = client_for(carol).get(build_urls(build)["detail"]).content.decode()
    assert "Cancel build" not in detail


def test_log_lines_are_escaped_and_timestamped(client_for, carol, make_build, build_urls):
    build = make_build(status=Build.Status.RUNNING, started_at=timezone.now())
    BuildLogLine.objects.create(
        build=build, seq=1, text="<script>alert('owned')</script>", stream="stdout"
    )
    BuildLogLine.objects.create(build=build, seq=2, text="Step 1/3 : FROM x", stream="stdout")
    for url in (build_urls(build)["detail"], build_urls(build)["log"]):
        page = client_for(carol).get(url).content.decode()
        assert "<script>alert(" not in page
        assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
        # Every line carries its time (HH:MM:SS) and the full timestamp on hover.
        assert re.search(
            r'<span class="ts" title="[0-9T:+.-]+">\d\d:\d\d:\d\d</span>Step 1/3', page
        )


def test_log_fragment_sends_only_new_lines_then_stops_polling(
    client_for, carol, make_build, build_urls
):
    build = make_build(status=Build.Status.RUNNING, started_at=timezone.now())
    for seq in (1, 2, 3):
        BuildLogLine.objects.create(build=build, seq=seq, text=f"line {seq}")
    client = client_for(carol)
    log_url = build_urls(build)["log"]

    running = client.get(log_url + "?after=2", HTTP_HX_REQUEST="true")
    body = running.content.decode()
    assert running.status_code == 200
    assert "line 3" in body and "line 1" not in body and "line 2" not in body
    assert 'hx-swap-oob="beforeend:#build-log-lines"' in body
    assert "?after=3" in body and 'hx-trigger="every 1s"' in body
    assert 'data-status="running"' in body

    # Nothing new while running: keep polling from the same place.
    idle = client.get(log_url + "?after=3", HTTP_HX_REQUEST="true").content.decode()
    assert "line 3" not in idle and "?after=3" in idle

    BuildLogLine.objects.create(build=build, seq=4, text="Build succeeded: image")
    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCEEDED, finished_at=timezone.now()
    )
    done = client.get(log_url + "?after=3", HTTP_HX_REQUEST="true")
    assert done.status_code == 286, "htmx stops polling on 286"
    body = done.content.decode()
    assert "Build succeeded: image" in body
    assert 'data-status="succeeded"' in body and "Succeeded" in body
    assert "hx-trigger" not in body


def test_outsider_cannot_read_a_build_log(client_for, dave, make_build, build_urls):
    build = make_build()
    for url in (build_urls(build)["detail"], build_urls(build)["log"]):
        assert client_for(dave).get(url).status_code == 404


def test_cancel_a_queued_build_after_confirmation(client_for, bob, carol, make_build, build_urls):
    build = make_build()
    urls = build_urls(build)
    assert client_for(carol).post(urls["cancel"]).status_code == 403

    confirm = client_for(bob).get(urls["cancel"])
    assert confirm.status_code == 200 and "Cancel build" in confirm.content.decode()
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED, "GET only asks for confirmation"

    response = client_for(bob).post(urls["cancel"], follow=True)
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED and build.finished_at
    assert "bob" in build.error
    last = build.log_lines.order_by("-seq").first()
    assert last.text == "Build cancelled by bob before it started."
    assert f"Build #{build.pk} cancelled." in " ".join(messages_of(response))

    again = client_for(bob).post(urls["cancel"], follow=True)
    assert "already finished" in " ".join(messages_of(again))


def test_cancel_of_a_running_build_asks_the_worker(client_for, bob, make_build, build_urls):
    build = make_build(status=Build.Status.RUNNING, started_at=timezone.now())
    response = client_for(bob).post(build_urls(build)["cancel"], follow=True)
    build.refresh_from_db()
    assert build.status == Build.Status.RUNNING and build.cancel_requested
    assert "Stopping" in " ".join(messages_of(response))
    assert "Stopping…" in response.content.decode()


def test_builds_list_is_paginated(client_for, carol, make_build, build_urls):
    for i in range(30):
        make_build(commit_sha=f"{i:040x}", status=Build.Status.SUCCEEDED)
    client = client_for(carol)
    first = client.get(build_urls()["queue"]).content.decode()
    assert first.count('<tr data-build="') == 25 and "Page 1 of 2" in first
    second = client.get(build_urls()["queue"] + "?page=2").content.decode()
    assert second.count('<tr data-build="') == 5


def test_builds_fragment_for_the_deploy_view(rf, carol, make_build, sample_component):
    now = timezone.now()
    build = make_build(
        status=Build.Status.SUCCEEDED,
        started_at=now - timezone.timedelta(seconds=42),
        finished_at=now,
        commit_message="Nightly <b>cleanup</b>",
        triggered_by=carol,
    )
    request = rf.get("/")
    request.user = carol
    html = render_to_string(
        "deployments/_builds.html",
        {
            "builds": sample_component.builds.all(),
            "component": sample_component,
            "project": sample_component.project,
            "can_build": False,
        },
        request=request,
    )
    assert 'class="badge badge-succeeded"' in html
    assert build.short_sha in html
    assert "42 s" in html
    assert "User · carol" in html
    assert f"/builds/{build.pk}/" in html
    assert "Nightly &lt;b&gt;cleanup&lt;/b&gt;" in html
    assert 'id="build-button"' not in html


def test_builds_list_heading_is_builds_with_the_component_in_the_breadcrumb(
    client_for, carol, sample_component, build_urls
):
    html = client_for(carol).get(build_urls()["queue"]).content.decode()
    assert re.search(r"<h1>\s*Builds\s*</h1>", html)
    assert f"<h1>{sample_component.name}</h1>" not in html
    project, name = sample_component.project.slug, sample_component.name
    crumbs = re.search(r'<p class="muted">(<a href="/p/.*?)</p>', html, re.S).group(1)
    assert f'<a href="/p/{project}/c/{name}/">{name}</a>' in crumbs
    assert f'<a href="/p/{project}/c/{name}/deploy/">Deploy</a>' in crumbs


def test_builds_table_refreshes_itself_while_a_build_is_active(
    client_for, carol, dave, make_build, build_urls
):
    """The list and the Deploy view's table poll while a build is queued or running; the
    refresh after it ends shows the new status and carries no poller, so polling stops."""
    build = make_build(status=Build.Status.RUNNING, started_at=timezone.now())
    client = client_for(carol)
    page = client.get(build_urls()["queue"]).content.decode()
    poller = re.search(r'<div id="builds-table" hx-get="([^"]+)" hx-trigger="every 3s"', page)
    assert poller, "a running build makes the table refresh itself"
    poll = poller.group(1).replace("&amp;", "&")
    assert poll.endswith("?page=1&fragment=page")
    deploy_page = client.get(build_urls()["queue"].replace("/builds/", "/deploy/")).content
    assert b'hx-get="' + build_urls()["queue"].encode() + b'?fragment=recent"' in deploy_page

    htmx = {"HTTP_HX_REQUEST": "true"}
    assert 'class="badge badge-running"' in client.get(poll, **htmx).content.decode()
    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCEEDED, finished_at=timezone.now()
    )
    fragment = client.get(poll, **htmx).content.decode()
    assert fragment.lstrip().startswith('<div id="builds-table">')
    assert 'class="badge badge-succeeded"' in fragment and "<html" not in fragment
    assert "hx-trigger" not in fragment

    recent = client.get(build_urls()["queue"] + "?fragment=recent", **htmx).content.decode()
    assert f'data-build="{build.pk}"' in recent and "hx-trigger" not in recent
    # The fragment is the same view: an outsider still gets a 404.
    assert client_for(dave).get(poll, **htmx).status_code == 404


def test_a_list_without_active_builds_does_not_poll(client_for, carol, make_build, build_urls):
    make_build(status=Build.Status.FAILED, finished_at=timezone.now())
    page = client_for(carol).get(build_urls()["queue"]).content.decode()
    assert '<div id="builds-table">' in page and "every 3s" not in page
