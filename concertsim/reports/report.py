"""The consistency reports an architect reads: ``report.md`` and ``report.html``, for a run, an
exploration, an ablation and a comparison of two designs.

One module per report (``run_report``, ``exploration_report``, ``ablation_report``,
``comparison_report``) over the building blocks they share (``report_blocks``); this module gathers
their entry points.
"""

from __future__ import annotations

from concertsim.reports.ablation_report import ablation_blocks, write_ablation_report
from concertsim.reports.comparison_report import comparison_blocks, write_comparison_report
from concertsim.reports.exploration_report import exploration_blocks, write_exploration_report
from concertsim.reports.run_report import run_blocks, write_run_report

__all__ = [
    "write_run_report",
    "write_exploration_report",
    "write_ablation_report",
    "write_comparison_report",
    "run_blocks",
    "exploration_blocks",
    "ablation_blocks",
    "comparison_blocks",
]
