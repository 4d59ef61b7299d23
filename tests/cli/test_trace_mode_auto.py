"""``concertsim run --trace-mode auto`` (the default) streams the trace of a run estimated not to
fit comfortably in memory, says so, and gives the same results as a run that keeps it in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from concertsim.scenarios.loader import load_builtin
from concertsim.sim.run import cost
from concertsim.sim.run.cost import estimate_run_cost
from tests.cli.invoking import cli, flat


def test_a_run_too_big_to_keep_its_trace_comfortably_is_streamed_with_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    needed = estimate_run_cost(load_builtin("small-opening")).memory_bytes
    kept = cli("run", "small-opening", "--trace-mode", "memory", "--out", str(tmp_path / "kept"))
    monkeypatch.setattr(cost, "memory_limit", lambda: int(needed * 1.5))
    streamed = cli("run", "small-opening", "--out", str(tmp_path / "auto"))
    assert kept.exit_code == streamed.exit_code == 0, streamed.output
    assert "the trace is streamed to disk (--trace-mode auto)" in flat(streamed.stderr)
    assert "the trace is streamed" not in kept.stderr
    summaries = [json.loads((tmp_path / name / "summary.json").read_text(encoding="utf-8")) for name in ("kept", "auto")]
    assert summaries[0]["trace_sha256"] == summaries[1]["trace_sha256"]
    assert summaries[0]["holds"] == summaries[1]["holds"]
    assert (tmp_path / "auto" / "trace.jsonl").read_bytes() == (tmp_path / "kept" / "trace.jsonl").read_bytes()


def test_the_default_opening_keeps_its_trace_in_memory_and_says_nothing_of_it(tmp_path: Path) -> None:
    done = cli("run", "--out", str(tmp_path / "out"))
    assert done.exit_code == 0
    assert "streamed" not in done.stderr
