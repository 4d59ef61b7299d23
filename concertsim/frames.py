"""Runs, sweeps and comparisons as pandas DataFrames, for notebooks (the ``analysis`` extra).

pandas is imported only when a frame is asked for, so the rest of concertsim works without it;
asking without it raises :class:`AnalysisUnavailable`, which says what to install. Parquet export
needs pyarrow as well (the ``parquet`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from concertsim.sim.run.result import RunResult

if TYPE_CHECKING:
    import pandas as pd

    from concertsim.comparison import Comparison
    from concertsim.sweep import GridResult, SeedResult

__all__ = [
    "AnalysisUnavailable", "trace_frame", "history_frame", "metrics_frame", "grid_frame", "comparison_frame",
    "to_parquet", "pandas",
]


class AnalysisUnavailable(ImportError):
    """A frame was asked for without pandas (or Parquet without pyarrow)."""


def pandas() -> Any:
    """The pandas module, or :class:`AnalysisUnavailable` naming the extra to install."""
    try:
        import pandas as pd
    except ImportError:
        raise AnalysisUnavailable(
            "DataFrames need pandas: pip install 'concertsim[analysis]'") from None
    return pd


def trace_frame(result: RunResult) -> pd.DataFrame:
    """One row per trace record: ``seq``, ``at``, ``kind``, ``party``, ``trace_id``, then one
    column per field of the records' ``data`` (empty where a record has no such field), in the
    order fields first appear."""
    pd = pandas()
    rows = [{"seq": r.seq, "at": r.at, "kind": r.kind, "party": r.party, "trace_id": r.trace_id, **r.data}
            for r in result.trace]
    return pd.DataFrame.from_records(rows).set_index("seq")


def history_frame(result: RunResult) -> pd.DataFrame:
    """One row per client operation: who asked what, when, how it ended and how long it took."""
    pd = pandas()
    rows = [{"op_id": op.op_id, "user_id": op.user_id, "action": op.action, "route": op.route,
             "invoke_at": op.invoke_at, "complete_at": op.complete_at, "outcome": op.outcome,
             "error": op.error, "attempts": op.attempts,
             "latency_s": None if op.complete_at is None else op.complete_at - op.invoke_at}
            for op in result.history]
    return pd.DataFrame.from_records(rows, columns=[
        "op_id", "user_id", "action", "route", "invoke_at", "complete_at", "outcome", "error", "attempts",
        "latency_s"]).set_index("op_id")


def _leaves(prefix: tuple[str, ...], value: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _leaves((*prefix, str(key)), inner)
    else:
        yield prefix, value


def metrics_frame(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The nested metrics of ``summary.json`` as a long table: ``section`` (the top-level key),
    ``name`` (the rest of the path, joined by `` › ``, since route names hold slashes), ``value``
    (numbers, booleans as 0/1, NaN for none) and ``text`` (a value that is not a number). Lists
    (series) are left out."""
    pd = pandas()
    rows = []
    for path, value in _leaves((), metrics):
        if isinstance(value, list):
            continue
        number = float(value) if isinstance(value, (int, float)) else None
        rows.append({"section": path[0], "name": " › ".join(path[1:]), "value": number,
                     "text": None if number is not None or value is None else str(value)})
    return pd.DataFrame.from_records(rows, columns=["section", "name", "value", "text"]).astype(
        {"value": "float64"})


def _seed_row(result: SeedResult) -> dict[str, Any]:
    return {"seed": result.seed, "holds": not result.violated, "violated": ", ".join(result.violated),
            "not_applicable": ", ".join(result.not_applicable),
            "trace_sha256": result.trace_sha256, **result.measures}


def grid_frame(result: GridResult) -> pd.DataFrame:
    """One row per run of a sweep: the swept values (a column per key), the seed, whether no
    invariant was broken (``holds``), the invariants broken, those the run could not judge
    (``not_applicable``), the trace hash and the headline measures."""
    pd = pandas()
    return pd.DataFrame.from_records([{**run.cell, **_seed_row(run.result)} for run in result.ordered_runs()])


def comparison_frame(comparison: Comparison) -> pd.DataFrame:
    """One row per side and seed of a comparison: ``side`` (A or B), its ``label``, then as
    :func:`grid_frame`; pair the sides by ``seed``."""
    pd = pandas()
    rows = [{"side": key.upper(), "label": getattr(comparison.plan, key).label, **_seed_row(result)}
            for key, runs in (("a", comparison.a_runs), ("b", comparison.b_runs))
            for result in sorted(runs.seeds, key=lambda r: r.seed)]
    return pd.DataFrame.from_records(rows)


def to_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as Parquet; :class:`AnalysisUnavailable` without pyarrow."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise AnalysisUnavailable("Parquet export needs pyarrow: pip install 'concertsim[parquet]'") from None
    frame.to_parquet(path)
    return path
