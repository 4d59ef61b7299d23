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


def test_a_comparison_frame_has_a_row_per_side_and_seed_with_its_measures() -> None:
    from concertsim.comparison import plan_comparison, run_comparison

    plan = plan_comparison("small-opening", seeds=2, shared=["workload.users=5"], only_b=["design.payment_flow=choreography"])
    frame = run_comparison(plan, workers=1).frame()
    assert list(frame.side) == ["A", "A", "B", "B"] and list(frame.seed) == [1, 2, 1, 2]
    assert {"holds", "violated", "trace_sha256", "latency_p95_ms", "funnel_confirmed"} <= set(frame.columns)
    assert frame.holds.all()


def test_a_grid_frame_has_a_row_per_run_with_a_column_per_swept_key() -> None:
    from concertsim.scenarios.loader import load_builtin
    from concertsim.sweep import SweepPlan, sweep_grid

    base = load_builtin("small-opening", ["workload.users=5"])
    plan = SweepPlan.build(base, [("design.payment_flow", ["sync", "choreography"])], [1, 2])
    frame = sweep_grid(plan, workers=1).frame()
    assert len(frame) == 4
    assert sorted(frame["design.payment_flow"].unique()) == ["choreography", "sync"]
    assert frame.groupby("design.payment_flow").seed.apply(sorted).to_dict() == {"choreography": [1, 2], "sync": [1, 2]}
