"""What the exploration and ablation reports say about the search and its counterexample: examples
tried and why fewer than asked, simulations by purpose, whether the minimum is proven 1-minimal,
and a link to the file that replays it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from concertsim.ablation import SAFEGUARDS, AblationRow, ablate, ablated
from concertsim.cli import app
from concertsim.exploration import Exploration, explore
from concertsim.reports.document.blocks import FileLink
from concertsim.reports.document.html import to_html
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.ablation.report import ablation_blocks, write_ablation_report
from concertsim.reports.exploration.report import exploration_blocks
from concertsim.search.minimize import Minimization
from concertsim.strategies import small_base
from tests.conftest import small_scenario

COMPENSATION = next(s for s in SAFEGUARDS if s.switch == "design.compensation=false")
ONE_MINIMAL = (
    "1-minimal: removing any one fault, user or filter clause, or halving any fault's duration, makes the "
    "run pass ({} checked)."
)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.fixture(scope="module")
def found() -> Exploration:
    """Without compensation, a lost reply to a point use leaves the points deducted."""
    exploration = explore(ablated(small_base(), COMPENSATION.switch, "sync"), examples=100, seed=0)
    assert exploration.found and exploration.minimization is not None
    return exploration


@pytest.fixture(scope="module")
def ablation_rows() -> list[AblationRow]:
    return ablate(small_base(), safeguards=[COMPENSATION], flows=("sync",), examples=100)


def reductions(count: int) -> str:
    return f"{count} reduction" if count == 1 else f"{count} reductions"


def test_an_exploration_report_says_its_counterexample_is_1_minimal(found: Exploration) -> None:
    minimization = found.minimization
    assert minimization is not None and minimization.one_minimal
    markdown = to_markdown(exploration_blocks(found))
    section = markdown[markdown.index("## The minimal fault schedule") : markdown.index("## Why it breaks")]
    assert ONE_MINIMAL.format(reductions(minimization.checked)) in section
    if minimization.kept:
        assert f"deletion pass kept {reductions(len(minimization.kept))}, each of which still broke" in section
        assert f"\n| {len(minimization.kept)} | " in section, "one row per kept reduction"
    assert (
        "Counterexample file: [counterexample.yaml](counterexample.yaml). It replays exactly: every run gives "
        f"trace SHA-256 {found.outcome.result.trace_sha256}. Replay it with:\n\n"  # type: ignore[union-attr]
        "```sh\nconcertsim replay counterexample.yaml\n```"
    ) in section
    assert '<a href="counterexample.yaml">counterexample.yaml</a>' in to_html(exploration_blocks(found), "t")


def test_the_search_table_says_why_fewer_examples_than_asked_were_tried(found: Exploration) -> None:
    note = found.budget_note()
    assert note.startswith(f"{found.generated} of 100 example(s) tried: stopped at the first failure")
    markdown = to_markdown(exploration_blocks(found))
    assert "| examples requested | 100 |" in markdown
    assert f"| examples tried | {note} |" in markdown
    assert f"| rounds and workers | {found.rounds} round" in markdown and "on 1 worker" in markdown
    assert "| search seed | 0 (the same seed and budget try the same examples) |" in markdown
    assert f"| simulations run | {found.runs}: {found.generated - found.repeated} search, " in markdown


def test_a_counterexample_whose_deletion_pass_spent_its_budget_is_not_called_1_minimal(
    found: Exploration,
) -> None:
    assert found.minimization is not None
    cut_short = dataclasses.replace(found.minimization, one_minimal=False)
    markdown = to_markdown(exploration_blocks(dataclasses.replace(found, minimization=cut_short)))
    assert f"Not proven 1-minimal: the deletion pass spent its budget of {cut_short.runs} runs" in markdown
    assert "1-minimal: removing" not in markdown


def test_simulations_are_split_by_what_they_were_for() -> None:
    scenario = small_scenario()
    exploration = Exploration(
        base=scenario, examples_requested=50, runs=16, generated=7, repeated=1, examples_to_failure=7,
        counterexample=scenario,
        minimization=Minimization(scenario, kept=["down to 39 users"], runs=10, checked=3, one_minimal=True),
    )
    assert "| simulations run | 16: 6 search, 10 shrinking; 2 more confirmed" in to_markdown(exploration_blocks(exploration))


def test_a_green_search_says_every_simulation_was_search() -> None:
    exploration = Exploration(base=small_scenario(), examples_requested=30, runs=30, generated=30, rounds=2)
    markdown = to_markdown(exploration_blocks(exploration))
    assert "| examples tried | 30 |" in markdown
    assert "| simulations run | 30, all search (nothing failed, so nothing was shrunk) |" in markdown


def test_the_ablation_report_links_each_counterexample_and_says_whether_it_is_1_minimal(
    ablation_rows: list[AblationRow], tmp_path: Path
) -> None:
    (row,) = ablation_rows
    minimization = row.exploration.minimization
    assert row.caught and minimization is not None and minimization.one_minimal
    write_ablation_report(OutputDir(tmp_path).prepare(), ablation_rows)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    checked = reductions(minimization.checked)
    assert f"| ✔ yes, {checked} checked |" in markdown
    users = row.exploration.counterexample.workload.users  # type: ignore[union-attr]
    assert (
        f"Minimal counterexample with the sync flow ({users} user{'s' if users != 1 else ''}), "
        f"1-minimal ({checked} checked):"
    ) in markdown
    name = "counterexample-compensation-false-sync.yaml"
    assert f"Counterexample file: [{name}]({name}). Replay it with:\n\n```sh\nconcertsim replay {name}\n```" in markdown
    assert f'<a href="{name}">{name}</a>. Replay it with:</p>\n<pre class="sh">concertsim replay {name}</pre>' in page


def test_an_ablation_row_without_a_counterexample_has_no_link(ablation_rows: list[AblationRow]) -> None:
    (row,) = ablation_rows
    empty = Exploration(base=row.exploration.base, examples_requested=100, runs=100, generated=100)
    markdown = to_markdown(ablation_blocks([AblationRow(row.safeguard, "choreography", empty)]))
    assert "Counterexample file" not in markdown
    assert markdown.count("| - |") >= 1 and "1-minimal (" not in markdown


@pytest.mark.parametrize(
    "command",
    [
        ["explore", "--set", "design.compensation=false", "--set", "design.payment_flow=sync", "-n", "100"],
        ["ablate", "--only", "compensation", "--flows", "sync", "-n", "100"],
    ],
    ids=["explore", "ablate"],
)
def test_every_file_a_report_links_is_written_beside_it(command: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [*command, "--out", str(out), "--quiet"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    linked = MARKDOWN_LINK.findall((out / "report.md").read_text(encoding="utf-8"))
    assert any(name.endswith(".yaml") for name in linked), "the counterexample file is linked"
    assert [name for name in linked if not (out / name).is_file()] == []


def test_a_file_link_is_escaped_and_points_only_beside_the_report() -> None:
    link = FileLink("a<b>.yaml", "<i>see</i> ", " and `run <x>`")
    assert to_markdown([link]) == "&lt;i&gt;see&lt;/i&gt; [a&lt;b&gt;.yaml](a%3Cb%3E.yaml) and `run &lt;x&gt;`\n"
    assert '<p>&lt;i&gt;see&lt;/i&gt; <a href="a%3Cb%3E.yaml">a&lt;b&gt;.yaml</a> and <code>run &lt;x&gt;</code></p>' in to_html([link], "t")
    for outside in ("../counterexample.yaml", "/etc/passwd", "dir\\file", "", ".."):
        with pytest.raises(ValueError):
            FileLink(outside)
