"""Reports for runs, explorations and ablations: both formats from one content, every figure,
escaped user strings, no external resources."""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

import pytest

from concertsim.ablation import SAFEGUARDS, AblationRow
from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.checks.probes import PROBES
from concertsim.exploration import Exploration
from concertsim.reports.run import figures as figures_module
from concertsim.reports.document.blocks import Code, Diagram, Heading, Image, Paragraph, Table, Verdict
from concertsim.reports.document.html import to_html
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.results.directory import OutputDir, OutputDirError
from concertsim.reports.ablation.report import write_ablation_report
from concertsim.reports.exploration.report import write_exploration_report
from concertsim.reports.run.report import write_run_report
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

PNG = b"\x89PNG\r\n\x1a\n" + b"not really an image"
EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:|//)|<script|<link|@import|url\(""", re.IGNORECASE)


def outcome_of(*overrides: str, **fields) -> RunOutcome:
    result = run_scenario(small_scenario(*overrides, **fields))
    return RunOutcome(result, check_run(result))


def fake_figures(saga: str | None = None) -> list[figures_module.RenderedFigure]:
    return [
        figures_module.RenderedFigure("latency-cdf", "Latency per endpoint", "How long clients waited.", PNG),
        figures_module.RenderedFigure(
            "message-flow", f"Message flow of {saga}", "One saga, time downward.", PNG
        ),
    ]


@pytest.fixture
def drawn_sagas(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Replace figure rendering (matplotlib, about a second) by fake PNGs; record the saga asked for."""
    asked: list[str | None] = []

    def render(outcome: RunOutcome, *, saga: str | None = None, extra_sagas: tuple[str, ...] = ()
               ) -> figures_module.FigureSet:
        asked.append(saga)
        return figures_module.FigureSet(fake_figures(saga), [("Time to convergence", "nothing was left to drain")])

    monkeypatch.setattr(figures_module, "run_figures", render)
    return asked


@pytest.fixture(scope="module")
def passing() -> RunOutcome:
    return outcome_of()


@pytest.fixture(scope="module")
def failing() -> RunOutcome:
    """Without the hold-expiry sweeper, abandoned holds are never released."""
    return outcome_of("design.hold_expiry=false", "settle.deadline=60")


def written(outcome: RunOutcome, directory: Path, **options) -> tuple[str, str]:
    write_run_report(OutputDir(directory).prepare(), outcome, **options)
    return (directory / "report.md").read_text(encoding="utf-8"), (directory / "report.html").read_text(
        encoding="utf-8"
    )


def test_a_passing_run_reports_that_the_design_held(passing: RunOutcome, tmp_path: Path, drawn_sagas) -> None:
    assert passing.holds
    markdown, page = written(passing, tmp_path)
    for text, escape in ((markdown, str), (page, html.escape)):
        assert f"The design held: {len(passing.held)} invariants hold, {len(passing.not_applicable)} not applicable (" in text
        assert "What broke" not in text
        assert "One saga, end to end" in text
        for verdict in passing.verdicts:
            assert verdict.invariant.id in text and escape(verdict.invariant.promise) in text
        assert "No faults: every service stayed up and every message arrived." in text
    assert markdown.count("✔\u00a0holds") == len(passing.held) and "✘" not in markdown
    assert '<p class="verdict ok">' in page and 'class="bad"' not in page
    assert drawn_sagas and drawn_sagas[0] is not None, "the message flow draws the saga the report shows"
    saga = drawn_sagas[0]
    assert "```mermaid\nsequenceDiagram" in markdown, "on a code host the mermaid source draws"
    assert "sequenceDiagram" not in page, "the page shows drawings, never diagram source"
    assert f'<a href="sequence-{saga}.mmd">sequence-{saga}.mmd</a>' in page
    assert (tmp_path / f"sequence-{saga}.mmd").read_text(encoding="utf-8").startswith("sequenceDiagram\n")
    assert "| Time to convergence | nothing was left to drain |" in markdown


def test_an_invariant_the_run_could_not_judge_shows_as_not_applicable_with_its_reason(
    passing: RunOutcome, tmp_path: Path
) -> None:
    """Without a traffic shift there is one Point store: point-stores-agree was not judged, so its
    row says n/a and why (muted), never a green "holds", and its violations are "-", not 0."""
    assert passing.holds and "point-stores-agree" in passing.not_applicable
    markdown, page = written(passing, tmp_path)
    row = next(line for line in markdown.splitlines() if line.startswith("| point-stores-agree |"))
    assert row.endswith("| n/a: no traffic shift to the split-out Point (design.point_shift=0) | - |")
    assert "holds" not in row
    assert '<td class="na">n/a: no traffic shift to the split-out Point (design.point_shift=0)</td>' in page
    assert page.count('<td class="ok">✔\u00a0holds</td>') == len(passing.held) < len(passing.verdicts)


def test_a_failing_run_explains_the_broken_invariant_with_its_saga(
    failing: RunOutcome, tmp_path: Path, drawn_sagas
) -> None:
    assert "seats-released-on-expiry" in failing.violated
    markdown, page = written(failing, tmp_path)
    first = next(v for v in failing.verdicts if v.invariant.id == "seats-released-on-expiry").violations[0]
    assert drawn_sagas == [first.saga]
    assert "The design broke 2 of 33 invariants: seats-released-on-expiry" in markdown
    assert "### ✘ seats-released-on-expiry:" in markdown
    assert "A hold that is not paid within its TTL expires and its seat is free again" in markdown
    assert "| hold expiry | off (changed from the default) |" in markdown
    assert f"#### The saga of {first.saga}" in markdown
    assert "No fault was active while this saga ran." in markdown
    assert "```mermaid\nsequenceDiagram\n" in markdown
    assert f"{first.saga}: user " in markdown and "it ends HELD" in markdown
    assert "never became quiescent within the settle deadline of 60 s" in markdown
    assert "Why it broke: Hold expiry is switched off: no sweeper frees the seat of a hold nobody pays" in markdown
    # the message flow leads the report as its hero figure, and is not repeated with its saga
    assert markdown.count("(message-flow.png)") == 1
    assert (
        markdown.index("(message-flow.png)")
        < markdown.index("## Scenario and design")
        < markdown.index("## Metrics")
        < markdown.index("(latency-cdf.png)")
    )
    assert '<p class="verdict bad">' in page and '<td class="bad">✘\u00a0violated</td>' in page
    assert "sequenceDiagram" not in page
    assert f"Drawn at the top of this report; its sequence diagram in mermaid: <a href=\"sequence-{first.saga}.mmd\">" in page
    assert f"The saga of {first.saga}" in page


def test_the_report_writes_every_figure_and_embeds_it_in_the_page(
    failing: RunOutcome, tmp_path: Path
) -> None:
    markdown, page = written(failing, tmp_path)  # real figures, rendered by matplotlib
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) >= 2 and "message-flow.png" in pngs
    for name in pngs:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
        assert f"]({name})" in markdown
    assert page.count('src="data:image/png;base64,') == len(pngs)
    assert not EXTERNAL.search(page), "the page must open from disk with no network"


def test_given_figures_are_all_shown_among_the_figures(failing: RunOutcome, tmp_path: Path) -> None:
    markdown, _ = written(failing, tmp_path, figures=fake_figures("res-1"))
    assert markdown.index("## Figures") < markdown.index("(message-flow.png)")
    assert (tmp_path / "latency-cdf.png").read_bytes() == PNG


def test_strings_from_the_scenario_are_escaped(tmp_path: Path) -> None:
    hostile = outcome_of(
        name="<script>alert(1)</script>", description="<img src=x onerror=alert(2)> | # not a heading"
    )
    markdown, page = written(hostile, tmp_path, figures=[])
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>concertsim: &lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert "<script" not in markdown and "<img" not in markdown
    assert "&lt;img src=x onerror=alert(2)&gt; \\| # not a heading" in markdown


def test_the_fault_schedule_lists_every_fault_and_the_saga_its_active_faults(tmp_path: Path) -> None:
    outcome = outcome_of(
        "design.hold_expiry=false",
        faults=[
            {
                "at": 0,
                "kind": "drop",
                "target": "request",
                "duration": 200,
                "match": {"message_type": "point.use", "count": 1},
            },
            {"at": 3, "kind": "crash", "target": "broker", "duration": 4},
        ],
    )
    markdown, _ = written(outcome, tmp_path, figures=[])
    assert (
        "| 0 | 0 s | drop | request | 200 s | message_type=point.use, count=1 | - "
        "| the first request of point.use is lost |"
    ) in markdown
    assert (
        "| 1 | 3 s | crash | broker | 4 s | - | - "
        "| the broker is down: work in flight is lost, committed data is kept |"
    ) in markdown
    assert ("| the fault schedule | From 0 s to 200 s, the first request of point.use is lost. From 3 s to 7 s, "
            "the broker is down: work in flight is lost, committed data is kept. |") in markdown
    assert "Faults active while this saga ran:" in markdown


def test_markdown_and_html_render_the_same_blocks() -> None:
    blocks = [
        Heading(1, "Title"),
        Verdict(False, "broke"),
        Paragraph("- not a list, run `concertsim run`"),
        Table(["a", "b"], [["x|y", "two\nlines"], ["✔ fine", "✘ bad"]]),
        Code("sequenceDiagram\n    client->>gateway: x", "mermaid"),
        Image("f.png", "A figure", "Its caption", PNG),
    ]
    markdown = to_markdown(blocks)
    assert markdown.startswith("# Title\n\n**❌ broke**\n\n\\- not a list, run `concertsim run`\n\n")
    assert "| x\\|y | two lines |" in markdown
    assert "```mermaid\nsequenceDiagram\n    client->>gateway: x\n```" in markdown
    assert "![A figure](f.png)\n\n*Its caption*" in markdown
    page = to_html(blocks, "t")
    assert "<p>- not a list, run <code>concertsim run</code></p>" in page
    assert '<td class="ok">✔ fine</td><td class="bad">✘ bad</td>' in page
    assert "client-&gt;&gt;gateway: x" in page
    assert "<figcaption>Its caption</figcaption>" in page


def test_a_diagram_is_drawn_in_the_page_and_its_source_only_linked() -> None:
    drawing = Image("message-flow.png", "Message flow", "One saga", PNG)
    source = "sequenceDiagram\n    client->>gateway: pay"
    markdown = to_markdown([Diagram(source, "sequence-res-1.mmd", drawing)])
    assert "![Message flow](message-flow.png)" in markdown
    assert "```mermaid\nsequenceDiagram\n    client->>gateway: pay\n```" in markdown
    page = to_html([Diagram(source, "sequence-res-1.mmd", drawing)], "t")
    assert 'src="data:image/png;base64,' in page and "sequenceDiagram" not in page and "client-" not in page
    assert '<a href="sequence-res-1.mmd">sequence-res-1.mmd</a>' in page
    elsewhere = to_html([Diagram(source, "sequence-res-1.mmd", None, "at the top of this report")], "t")
    assert "Drawn at the top of this report" in elsewhere and "sequenceDiagram" not in elsewhere
    assert "not drawn here" in to_html([Diagram(source, "sequence-res-1.mmd")], "t")


def exploration_with(outcome: RunOutcome | None, probes: dict[str, int]) -> Exploration:
    base = small_scenario("design.hold_expiry=false") if outcome else small_scenario()
    found = Exploration(
        base=base,
        examples_requested=50,
        runs=31 if outcome else 50,
        generated=7 if outcome else 50,
        probes=Counter(probes),
    )
    if outcome is not None:
        found.examples_to_failure = 7
        found.counterexample = outcome.result.scenario.model_copy(update={"name": "small-counterexample"})
        found.outcome = outcome
    return found


def test_an_exploration_report_shows_the_counterexample_why_and_its_figures(
    failing: RunOutcome, tmp_path: Path, drawn_sagas: list[str | None]
) -> None:
    found = exploration_with(failing, {"relay-republished": 2})
    write_exploration_report(OutputDir(tmp_path).prepare(), found)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith(
        "# Exploration of small\n\n**❌ Broken promise (seats-released-on-expiry): A hold that is not paid"
    )
    first_screen = markdown[: markdown.index("| examples to the first failure | 7 |")]
    assert "| why the design let it | Hold expiry is switched off: no sweeper frees the seat" in first_screen
    assert "| the minimal fault schedule | No fault: the design breaks the promise on its own. |" in first_screen
    assert "| replay it | `concertsim replay counterexample.yaml` |" in first_screen
    assert "(message-flow.png)" in first_screen, "the saga is the hero figure"
    assert "Counterexample found: seats-released-on-expiry, sagas-terminate broken" in markdown
    assert "## The minimal fault schedule" in markdown
    assert "No fault at all: the design breaks the promise on its own." in markdown
    assert "## Why it breaks" in markdown and "```mermaid" in markdown and "#### The saga of res-" in markdown
    assert "## Coverage, counting the search and the counterexample" in markdown
    assert "| relay-republished |" in markdown and "| 2 |" in markdown
    assert "Never reached, in the search or the counterexample" in markdown
    first_saga = next(v.saga for verdict in failing.verdicts for v in verdict.violations if v.saga)
    assert drawn_sagas == [first_saga], "the counterexample's message flow draws the first violation's saga"
    places = [markdown.index(text) for text in ("(message-flow.png)", "## Why it breaks", "## Figures",
                                                "(latency-cdf.png)")]
    assert places == sorted(places), "the message flow first, the other figures after"
    assert (tmp_path / "message-flow.png").exists() and (tmp_path / "latency-cdf.png").exists()
    assert not EXTERNAL.search((tmp_path / "report.html").read_text(encoding="utf-8"))


def test_a_green_exploration_warns_about_probes_it_never_reached(
    tmp_path: Path, drawn_sagas: list[str | None]
) -> None:
    reached = {name: 3 for name in list(PROBES)[:2]}
    write_exploration_report(OutputDir(tmp_path).prepare(), exploration_with(None, reached))
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "✅ No counterexample: every invariant held in all 50 generated examples." in markdown
    unreached = list(PROBES)[2:]
    assert f"Never reached: {', '.join(unreached)}." in markdown
    assert "A green result that never reached the dangerous state proves little" in markdown
    assert markdown.count("✘ never") == len(unreached)
    assert "## Base scenario and design" in markdown
    assert not drawn_sagas and "## Figures" not in markdown, "a search that found nothing has no run to draw"


def test_an_ablation_report_shows_the_matrix_and_why_each_safeguard_exists(
    failing: RunOutcome, tmp_path: Path
) -> None:
    expiry = next(s for s in SAFEGUARDS if s.switch == "design.hold_expiry=false")
    dedup = next(s for s in SAFEGUARDS if s.switch == "design.consumer_dedup=false")
    redundant = next(s for s in SAFEGUARDS if "choreography" in s.redundant_in)
    rows = [
        AblationRow(expiry, "sync", exploration_with(failing, {})),
        AblationRow(expiry, "choreography", exploration_with(failing, {})),
        AblationRow(dedup, "sync", exploration_with(None, {})),
        AblationRow(redundant, "choreography", exploration_with(None, {})),
    ]
    write_ablation_report(OutputDir(tmp_path).prepare(), rows)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert (
        "❌ 3 of 4 results are as the design documents: 2 ablated designs broke the promise their safeguard "
        "protects, 1 held where the safeguard is documented redundant."
    ) in markdown
    assert "| switched off | seed | sync | choreography |" in markdown
    assert (
        "| hold_expiry=false | 4.1 | ✔ caught: seats-released-on-expiry, sagas-terminate after 7 examples, "
        "0 faults in the minimum. [Counterexample](counterexample-hold_expiry-false-sync.yaml), replay: "
        "`concertsim replay counterexample-hold_expiry-false-sync.yaml` |"
    ) in markdown
    assert "| consumer_dedup=false | 4.2.3 | ✘ not caught in 50 examples | - |" in markdown
    assert (
        f"| {redundant.switch.removeprefix('design.')} | {redundant.seed_section} | - "
        "| ✔ redundant here (documented): nothing broke in 50 examples |"
    ) in markdown
    assert (
        "| hold_expiry=false | sync | seats-released-on-expiry, sagas-terminate "
        "| ✔ yes | 7 | 0 | no fault needed |"
    ) in markdown
    assert ('<td><span class="ok">✔ caught: seats-released-on-expiry, sagas-terminate after 7 examples, 0 faults '
            'in the minimum</span>. <a href="counterexample-hold_expiry-false-sync.yaml">Counterexample</a>, '
            'replay: <code>concertsim replay counterexample-hold_expiry-false-sync.yaml</code></td>') in page
    assert "Not as documented: design.consumer_dedup=false (sync)." in markdown
    for safeguard in (expiry, dedup, redundant):
        assert f"{safeguard.why} (design section {safeguard.seed_section})" in markdown
    assert f"Documented redundant in the choreography flow: {redundant.redundancy}" in markdown
    assert "| seats-released-on-expiry, sagas-terminate | crash | the base as it is |" in markdown
    assert '<span class="ok">✔ caught' in page and '<td class="bad">✘ not caught' in page


def test_an_ablation_report_says_what_a_safeguards_search_set_beside_its_switch(
    failing: RunOutcome, tmp_path: Path
) -> None:
    in_order = next(s for s in SAFEGUARDS if s.switch == "broker.retry_in_place=false")
    write_ablation_report(OutputDir(tmp_path).prepare(), [AblationRow(in_order, "sync", exploration_with(failing, {}))])
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert ("| seat-view-converges | commit_failure | broker.kind=rabbitmq, broker.single_active_consumer=true, "
            "broker.retry_in_place=true |") in markdown


def test_an_output_directory_of_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputDirError):
        OutputDir(tmp_path).prepare()


def test_a_previous_run_is_replaced_not_mixed(tmp_path: Path) -> None:
    first = OutputDir(tmp_path).prepare()
    first.write_text("stale.txt", "old run")
    OutputDir(tmp_path).prepare().write_text("summary.json", "{}")
    assert not (tmp_path / "stale.txt").exists()


def test_the_user_funnel_is_in_the_metrics_and_the_report(passing: RunOutcome, tmp_path: Path, drawn_sagas) -> None:
    funnel = passing.metrics["funnel"]
    result = passing.result
    assert funnel["arrived"] == result.counters["users"]
    assert funnel["arrived"] >= funnel["admitted"] >= funnel["held"] >= funnel["paid"] >= funnel["confirmed"] > 0
    assert funnel["abandoned"] == funnel["held"] - funnel["paid"]
    seats = result.scenario.concerts.dates * result.scenario.concerts.seats_per_date
    assert funnel["unsold_seats"] == seats - passing.metrics["reservations"]["confirmed"]
    markdown, _ = written(passing, tmp_path)
    assert (f"{funnel['arrived']} arrived → {funnel['admitted']} admitted → {funnel['held']} held a seat"
            in markdown)
