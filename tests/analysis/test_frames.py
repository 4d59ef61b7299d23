"""Runs as DataFrames: the trace, the client history and the metrics, and Parquet export."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from concertsim.api import RunOutcome, run
from concertsim.frames import AnalysisUnavailable, to_parquet


@pytest.fixture(scope="module")
def outcome() -> RunOutcome:
    return run("small-opening", overrides=["workload.users=8"])


def test_the_trace_frame_has_a_row_per_record_and_a_column_per_data_field(outcome: RunOutcome) -> None:
    frame = outcome.trace_frame()
    assert len(frame) == len(outcome.result.trace)
    assert list(frame.columns[:4]) == ["at", "kind", "party", "trace_id"]
    commits = frame[frame.kind == "tx.commit"]
    assert len(commits) == sum(1 for r in outcome.result.trace.records if r.kind == "tx.commit")
    assert "label" in frame.columns and commits.label.notna().all()


def test_the_history_frame_has_a_row_per_operation_with_its_latency(outcome: RunOutcome) -> None:
    frame = outcome.history_frame()
    assert len(frame) == len(outcome.result.history)
    done = frame[frame.complete_at.notna()]
    assert ((done.complete_at - done.invoke_at) == done.latency_s).all()


def test_the_metrics_frame_is_the_summary_metrics_long(outcome: RunOutcome) -> None:
    frame = outcome.metrics_frame()
    funnel = frame[frame.section == "funnel"].set_index("name").value
    assert funnel.to_dict() == {k: float(v) for k, v in outcome.metrics["funnel"].items()}
    assert frame.value.dtype == "float64"


def test_frames_round_trip_through_parquet(outcome: RunOutcome, tmp_path: Path) -> None:
    for name, frame in (("trace", outcome.trace_frame()), ("metrics", outcome.metrics_frame())):
        path = to_parquet(frame, tmp_path / f"{name}.parquet")
        assert pd.read_parquet(path).shape == frame.shape


def test_without_pandas_a_frame_says_what_to_install(outcome: RunOutcome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(AnalysisUnavailable, match=r"concertsim\[analysis\]"):
        outcome.trace_frame()
