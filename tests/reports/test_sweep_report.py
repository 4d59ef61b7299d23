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


def test_one_measure_table_has_a_column_per_cell_with_intervals() -> None:
    blocks = sweep_blocks(grid_result(), [])
    assert not [b for b in blocks if isinstance(b, Heading) and b.level == 3], "no table per cell"
    (table,) = [b for b in blocks if isinstance(b, Table) and b.header[0] == "measure"]
    assert table.header == ["measure", "publish=outbox, users=5", "publish=outbox, users=10",
                            "publish=dual_write, users=5", "publish=dual_write, users=10"]
    rows = {row[0]: row[1:] for row in table.rows}
    # the expanded percentile bootstrap over three seeds: the values' range, never below zero
    assert rows["client latency p95 (ms), every operation"][0] == "32.0 [31.0, 33.0]"
    assert rows["payment latency p95 (ms)"] == ["-"] * 4
    assert rows["users arrived"][0] == "1 (all equal)"


def test_a_figure_against_each_swept_key_shows_only_the_measures_that_vary() -> None:
    result = grid_result()
    assert varying_measures(result) == ["latency_p95_ms", "funnel_confirmed"]
    figures = render_sweep_figures(result)
    assert [f.name for f in figures] == [figure_name("design.publish"), figure_name("workload.users")]
    assert figures[0].name == "measures-vs-design-publish" and figures[0].png.startswith(b"\x89PNG")
    assert "a colour (points, not joined: the values are choices) per value of workload.users" in figures[0].caption
    assert "a line per value of design.publish" in figures[1].caption


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


def sweep_figure(result, key: str):
    """The matplotlib figure the sweep report draws against ``key``."""
    from concertsim.reports.sweep.figures import _against

    axis = next(a for a in result.plan.axes if a.key == key)
    return _against(result, axis, [a for a in result.plan.axes if a is not axis], varying_measures(result))


def echoing_result():
    """A grid whose runs differ by users arrived (as many as swept) and by a fraction of a
    millisecond of latency."""
    plan = fakes.plan("design.publish=outbox,dual_write", "workload.users=5,10")
    runs = [fakes.run(cell, seed, [], latency_p95_ms=30.0 + 0.2 * (cell.values["design.publish"] == "dual_write"),
                      funnel_arrived=float(cell.values["workload.users"]), funnel_confirmed=float(seed))
            for cell in plan.cells for seed in plan.seeds]
    return fakes.result(plan, runs)


def test_a_measure_that_echoes_a_swept_input_gets_no_panel() -> None:
    result = echoing_result()
    from concertsim.reports.sweep.figures import echoed_measures

    assert "funnel_arrived" in varying_measures(result)
    assert echoed_measures(result) == ["funnel_arrived"]
    (rendered, _) = render_sweep_figures(result)
    assert "Users arrived is left out: it repeats workload.users, swept." in rendered.caption


def test_a_categorical_swept_value_is_not_joined_by_a_line() -> None:
    figure = sweep_figure(echoing_result(), "design.publish")
    for axes in figure.axes:
        for line in axes.lines:
            if len(line.get_xdata()) > 1:
                assert line.get_linestyle() == "None", axes.get_title()
    numeric = sweep_figure(echoing_result(), "workload.users")
    assert any(line.get_linestyle() == "-" for axes in numeric.axes for line in axes.lines)


def test_a_fraction_of_a_millisecond_is_drawn_in_proportion_from_zero() -> None:
    figure = sweep_figure(echoing_result(), "design.publish")
    latency = next(axes for axes in figure.axes if axes.get_title().startswith("Client latency p95"))
    bottom, top = latency.get_ylim()
    assert bottom == 0 and top >= 30.2
