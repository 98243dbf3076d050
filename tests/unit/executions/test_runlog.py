"""The run's log across a database restart: a write the server committed but never confirmed
(it went away first) is not stored twice when the log tries again."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from deployments.executions.watch import RunLog
from deployments.models import ExecutionLogLine

# Outside a transaction, as a worker writes its log while the run goes on.
pytestmark = pytest.mark.django_db(transaction=True)


def test_lines_committed_before_the_connection_broke_are_not_stored_twice(
    deploy, tick, monkeypatch
):
    e = tick(deploy())
    log = RunLog(owner=e, line_model=ExecutionLogLine, fk_name="execution", seq=0)
    log("first", "stdout")
    log("second", "stdout")
    real = ExecutionLogLine.objects.bulk_create

    def committed_then_cut_off(objs, *args, **kwargs):
        real(objs, *args, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ExecutionLogLine.objects, "bulk_create", committed_then_cut_off)
    log.flush()  # the lines are stored, but the log cannot know
    monkeypatch.undo()
    log("third", "stdout")
    log.flush()
    stored = list(
        ExecutionLogLine.objects.filter(execution=e).order_by("seq").values_list("seq", "text")
    )
    assert [text for _, text in stored] == ["first", "second", "third"]
    assert len({seq for seq, _ in stored}) == 3
