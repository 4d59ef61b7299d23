"""Sweeps: a scenario over many seeds, and over a grid of scenario values, in parallel,
aggregated into one result.

- :func:`sweep` runs one scenario once per seed (:class:`SeedResult` each, a :class:`SweepResult`
  in all); ``compare`` builds on it.
- :func:`sweep_grid` runs every cell of a :class:`SweepPlan` (a base scenario, ``--matrix``
  values, seeds) with every seed and aggregates each cell (:class:`GridResult`): per invariant
  the violation rate with a Wilson interval, per headline measure the mean with a percentile bootstrap
  interval. A :class:`Journal` streams the finished runs to ``sweep.jsonl`` so that an
  interrupted sweep can be resumed.

One module per job: ``runs`` (running seeds on a pool or a Dask cluster), ``grid`` (the matrix,
its cells and the plan's fingerprint), ``journal`` (the JSON-lines stream and resuming it),
``aggregate`` (the statistics per cell) and ``grid_sweep`` (running a plan).
"""

from concertsim.sweep.aggregate import CellSummary, GridResult, InvariantRate, summarise_cell
from concertsim.sweep.grid import Axis, Cell, GridRun, MatrixError, SweepPlan, parse_matrix
from concertsim.sweep.grid_sweep import pending_runs, sweep_grid
from concertsim.sweep.journal import Journal, JournalError, journal_directory, open_journal, read_journal
from concertsim.sweep.runs import SeedResult, SweepResult, run_jobs, run_seed, sweep

__all__ = [
    "SeedResult",
    "SweepResult",
    "run_seed",
    "run_jobs",
    "sweep",
    "sweep_grid",
    "pending_runs",
    "SweepPlan",
    "Axis",
    "Cell",
    "GridRun",
    "MatrixError",
    "parse_matrix",
    "GridResult",
    "CellSummary",
    "InvariantRate",
    "summarise_cell",
    "Journal",
    "JournalError",
    "open_journal",
    "journal_directory",
    "read_journal",
]
