"""The terminal's table of verdicts keeps every invariant's id whole in an 80-column terminal: the
reader searches the report, the docs and the code for it."""

from __future__ import annotations

import io

from rich.console import Console

from concertsim.api import run
from concertsim.reports.run.console import verdict_table
from tests.conftest import small_scenario


def test_every_invariant_id_is_printed_whole_at_80_columns() -> None:
    outcome = run(small_scenario())
    shown = io.StringIO()
    Console(file=shown, width=80, color_system=None).print(verdict_table(outcome))
    lines = shown.getvalue().splitlines()
    for verdict in outcome.verdicts:
        assert any(f"│ {verdict.invariant.id} " in line for line in lines), verdict.invariant.id
