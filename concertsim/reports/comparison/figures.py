"""The figures of a comparison report, each drawn only when it has something to show.

- :func:`invariant_rates_figure`: for each invariant broken on either side, the share of seeds
  that broke it on A and on B with its Wilson 95% interval (None when neither side broke any).
- :func:`measure_means_figure`: for each measure that differs significantly, the per-seed
  difference B − A with its bootstrap 95% interval against zero, one small panel per measure
  (None when none differs). A ratio over too few events, or any measure when a side books almost
  nothing, never differs (:meth:`concertsim.comparison.Comparison.significant_measures`).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator, PercentFormatter  # noqa: E402

from concertsim.comparison import Comparison, InvariantComparison, MeasureComparison  # noqa: E402
from concertsim.reports.plotting.base import RenderedFigure, figure_png  # noqa: E402
from concertsim.statistics import SIGNIFICANCE  # noqa: E402

__all__ = [
    "INVARIANT_RATES",
    "MEASURE_MEANS",
    "broken_invariants",
    "differing_measures",
    "invariant_rates_figure",
    "measure_means_figure",
    "comparison_figures",
]

INVARIANT_RATES = "invariant-rates"
MEASURE_MEANS = "measure-means"
SIDE_COLOURS = ("#1f77b4", "#ff7f0e")
SIGNIFICANT_COLOUR = "#cf222e"
COLUMNS = 4
COUNTED_UNITS = ("users", "seats")


def _sides(comparison: Comparison) -> str:
    plan = comparison.plan
    return f"A = {plan.a.label}, B = {plan.b.label}"


# --- invariants ----------------------------------------------------------------------------------------------


def broken_invariants(comparison: Comparison) -> list[InvariantComparison]:
    """The invariants some seed broke on either side, in the order of the report."""
    return [i for i in comparison.invariants
            if (i.a is not None and i.a.broken_seeds) or (i.b is not None and i.b.broken_seeds)]


def invariant_rates_figure(comparison: Comparison) -> RenderedFigure | None:
    """Each broken invariant's rate on A and on B with its Wilson 95% interval (None when
    neither side broke any)."""
    broken = broken_invariants(comparison)
    if not broken:
        return None
    figure = Figure(figsize=(8, 1.0 + 0.55 * len(broken)))
    axes = figure.add_subplot()
    rows = list(range(len(broken)))[::-1]
    for offset, key, colour in ((0.14, "a", SIDE_COLOURS[0]), (-0.14, "b", SIDE_COLOURS[1])):
        for row, invariant in zip(rows, broken, strict=True):
            side = invariant.a if key == "a" else invariant.b
            if side is None or side.rate is None:
                continue
            rate = side.rate
            axes.errorbar([rate.estimate], [row + offset],
                          xerr=[[rate.estimate - rate.low], [rate.high - rate.estimate]],
                          fmt="o", color=colour, capsize=4, markersize=6, linewidth=1.5,
                          label=key.upper() if row == rows[0] else None)
    axes.set_yticks(rows, [i.id for i in broken], fontsize=9)
    for label, invariant in zip(axes.get_yticklabels(), broken, strict=True):
        if invariant.significant:
            label.set_color(SIGNIFICANT_COLOUR)
            label.set_fontweight("bold")
    axes.set_xlim(-0.03, 1.03)
    axes.set_ylim(-0.6, len(broken) - 0.4)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel(f"share of the {len(comparison.seeds)} seeds that broke it (Wilson 95% interval)")
    axes.grid(True, axis="x", alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(broken) < 3 else -0.18),
                ncol=2, frameon=False, fontsize=9)
    caption = (f"{_sides(comparison)}. For each invariant some seed broke, the share of seeds that broke it on "
               f"each side; invariants in red differ significantly (Fisher's exact test, p < {SIGNIFICANCE:g}).")
    return RenderedFigure(INVARIANT_RATES, "Invariants broken, A against B", caption, figure_png(figure))


# --- measures ------------------------------------------------------------------------------------------------


def differing_measures(comparison: Comparison) -> list[MeasureComparison]:
    """The measures whose difference is significant (and comparable: not a ratio over too few
    events, no side that books almost nothing)."""
    return [m for m in comparison.significant_measures() if m.a is not None and m.b is not None]


def _draw(axes: Axes, measure: MeasureComparison) -> None:
    """The per-seed difference B − A with its 95% interval against zero: what the signed-rank
    test judged (the two sides' means, whose intervals may overlap although every seed moved the
    same way, are in the x label)."""
    assert measure.a is not None and measure.b is not None and measure.difference is not None
    d = measure.difference
    colour = SIDE_COLOURS[1] if measure.favours == "b" else SIDE_COLOURS[0] if measure.favours == "a" else "#555555"
    axes.errorbar([0], [d.estimate], yerr=[[d.estimate - d.low], [d.high - d.estimate]],
                  fmt="o", color=colour, capsize=6, markersize=7, linewidth=1.8)
    axes.axhline(0, color="#555555", linewidth=1, linestyle=":")
    axes.set_xlim(-1, 1)
    axes.set_xticks([0], ["B − A"])
    kind = measure.kind
    axes.set_ylabel(kind.unit, fontsize=8)
    axes.set_xlabel(f"A {measure.a.estimate:.3g}, B {measure.b.estimate:.3g}", fontsize=8)
    if kind.unit in COUNTED_UNITS:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_title(f"{kind.title}\np = {measure.p_value:.2g}, significant", fontsize=9,
                   color=SIGNIFICANT_COLOUR, fontweight="bold")


def measure_means_figure(comparison: Comparison) -> RenderedFigure | None:
    """Each significantly differing measure's per-seed difference B − A with its 95% interval
    (None when no measure differs)."""
    measures = differing_measures(comparison)
    if not measures:
        return None
    columns = min(COLUMNS, len(measures))
    rows = -(-len(measures) // columns)
    figure = Figure(figsize=(2.7 * columns, 2.6 * rows))
    grid = figure.subplots(rows, columns, squeeze=False)
    for index, axes in enumerate(grid.flat):
        if index < len(measures):
            _draw(axes, measures[index])
        else:
            axes.set_visible(False)
    figure.tight_layout(h_pad=1.5, w_pad=1.2)
    caption = (f"{_sides(comparison)}. Each point is a side's mean over the same {len(comparison.seeds)} seeds, its "
               "bar the percentile bootstrap 95% interval of that mean; p is the signed-rank test's of the paired "
                   "differences B − A. Shown: only the measures that differ significantly; a ratio over too few "
                   "bookings is never shown as a difference.")
    return RenderedFigure(MEASURE_MEANS, "Measures that differ, A against B", caption, figure_png(figure))


def comparison_figures(comparison: Comparison) -> list[RenderedFigure]:
    """The figures that have something to show (possibly none)."""
    return [f for f in (invariant_rates_figure(comparison), measure_means_figure(comparison)) if f is not None]
