"""Build logs are capped in size with a clear marker, and the reason still comes last."""

from __future__ import annotations

import pytest

from deployments.logs import LogWriter
from deployments.models import Build, BuildLogLine

pytestmark = pytest.mark.django_db


def test_log_cap_keeps_a_truncation_marker_and_the_final_reason(
    client_for, carol, make_build, build_urls
):
    build = make_build(status=Build.Status.FAILED)
    log = LogWriter(owner=build, line_model=BuildLogLine, fk_name="build", max_bytes=300)
    for i in range(100):
        log(f"pip: downloading package number {i:03d}")
    log.final("Build failed: The command returned a non-zero code: 1")

    lines = list(build.log_lines.order_by("seq").values_list("text", flat=True))
    stored = sum(len(t.encode()) + 1 for t in lines[:-2])
    assert stored <= 300
    assert lines[0] == "pip: downloading package number 000"
    assert lines[-2].startswith("[chorus] log truncated") and "300 bytes" in lines[-2]
    assert "more line(s) were not stored" in lines[-2]
    assert lines[-1] == "Build failed: The command returned a non-zero code: 1"
    build.refresh_from_db()
    assert build.log_truncated

    page = client_for(carol).get(build_urls(build)["detail"]).content.decode()
    assert "log truncated" in page
    assert "truncated at its size limit" in page
    assert page.index("log truncated") < page.index("Build failed: The command")
