"""The sweep report: the verdict first, the violation rate per cell, a measure table per cell with
intervals, and figures of the measures that vary (against each swept key, or over the seeds of a
sweep without a matrix), written as report.md, report.html and PNG files."""

from __future__ import annotations

from pathlib import Path

from concertsim.reports.document.blocks import Heading, Image, Table, Verdict
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.sweep.figures import figure_name, render_sweep_figures, varying_measures
from concertsim.reports.sweep.report import sweep_blocks, write_sweep_report
from tests.sweep import fakes


def grid_result(name: str = "small"):
    plan = fakes.plan("design.publish=outbox,dual_write", "workload.users=5,10", name=name)
    runs = []
    for cell in plan.cells:
        dual = cell.values["design.publish"] == "dual_write"
        for seed in plan.seeds:
            runs.append(fakes.run(cell, seed, ["no-lost-events"] if dual and seed != 2 else [],
                                  latency_p95_ms=30.0 + 10 * dual + seed,
                                  funnel_confirmed=float(cell.values["workload.users"] - seed),
                                  pay_p95_ms=None))
    return fakes.result(plan, runs)


def test_the_verdict_comes_first_and_names_the_cells_and_the_invariants_they_broke() -> None:
    result = grid_result()
    blocks = sweep_blocks(result, [])
    assert isinstance(blocks[0], Heading) and isinstance(blocks[1], Verdict)
    verdict = blocks[1]
    assert not verdict.ok
    assert verdict.text.startswith("Invariants broken in 2 of 4 cells: design.publish=dual_write, workload.users=5 "
                                   "broke no-lost-events (2 of 3 runs)")
    rates = next(b for b in blocks if isinstance(b, Table) and b.header[:2] == ["cell", "runs"])
    assert rates.header == ["cell", "runs", "no-lost-events"]
    assert [row[2] for row in rates.rows] == ["✔ 0 of 3 · 0% [0%, 56%]", "✔ 0 of 3 · 0% [0%, 56%]",
                                             "✘ 2 of 3 · 67% [21%, 94%]", "✘ 2 of 3 · 67% [21%, 94%]"]


def test_every_cell_has_a_measure_table_with_intervals() -> None:
    blocks = sweep_blocks(grid_result(), [])
    cells = [b.text for b in blocks if isinstance(b, Heading) and b.level == 3]
    assert cells == ["design.publish=outbox, workload.users=5", "design.publish=outbox, workload.users=10",
                     "design.publish=dual_write, workload.users=5", "design.publish=dual_write, workload.users=10"]
    tables = [b for b in blocks if isinstance(b, Table) and b.header[0] == "measure"]
    assert len(tables) == 4
    rows = {row[0]: row[1:] for row in tables[0].rows}
    # the expanded percentile bootstrap over three seeds: the values' range, never below zero
    assert rows["client latency p95 (ms), every operation"] == ["32.0 [31.0, 33.0]", "3 of 3"]
    assert rows["payment latency p95 (ms)"] == ["-", "0 of 3"]
    assert rows["users arrived"] == ["1 (all equal)", "3 of 3"]


def test_a_figure_against_each_swept_key_shows_only_the_measures_that_vary() -> None:
    result = grid_result()
    assert varying_measures(result) == ["latency_p95_ms", "funnel_confirmed"]
    figures = render_sweep_figures(result)
    assert [f.name for f in figures] == [figure_name("design.publish"), figure_name("workload.users")]
    assert figures[0].name == "measures-vs-design-publish" and figures[0].png.startswith(b"\x89PNG")
    assert "one line per value of workload.users" in figures[0].caption


def test_a_sweep_without_a_matrix_shows_the_spread_over_the_seeds_or_no_figure() -> None:
    plan = fakes.plan(seeds=range(1, 5))
    (cell,) = plan.cells
    varying = fakes.result(plan, [fakes.run(cell, s, latency_p95_ms=float(s)) for s in plan.seeds])
    assert [f.name for f in render_sweep_figures(varying)] == ["measures-over-seeds"]
    constant = fakes.result(plan, [fakes.run(cell, s) for s in plan.seeds])
    assert render_sweep_figures(constant) == []
    blocks = sweep_blocks(constant, [])
    assert blocks[1] == Verdict(True, "Every invariant held in every run: 4 runs (4 seeds).")
    assert not any(isinstance(b, Image) for b in blocks)
    assert any("No figure: every headline measure was the same" in getattr(b, "text", "") for b in blocks)


def test_the_report_files_are_written_and_the_scenario_name_is_escaped(tmp_path: Path) -> None:
    write_sweep_report(OutputDir(tmp_path).prepare(), grid_result(name="<script>x</script>"))
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == ["measures-vs-design-publish.png", "measures-vs-workload-users.png", "report.html", "report.md"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    assert page.count("data:image/png;base64,") == 2, "figures embedded: the page works offline"
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in markdown and "## Violation rate per cell" in markdown
    assert "concertsim run SCENARIO --seed 1 --set design.publish=dual_write --set workload.users=5" in markdown
