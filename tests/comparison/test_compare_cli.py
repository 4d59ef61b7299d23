"""``concertsim compare``: exit codes, refusals of bad input, the JSON it prints and writes, the
report files, a readable console summary, and an interruption that keeps earlier results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import concertsim.comparison as comparison_module
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.schema import INVARIANT_IDS
from tests.cli.invoking import cli, flat, refused

SMALL = ("small-opening", "--set", "workload.users=10")
BROKER_CRASH = "faults=[{at: 5, kind: crash, target: broker, duration: 10}]"


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the comparison starts running (refusals come before any run)."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the comparison ran before the refusal")

    monkeypatch.setattr(comparison_module, "sweep", forbidden)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("smal-opening", "small-opening"), "A: smal-opening: no such file or built-in scenario; "
                                            "did you mean 'small-opening'"),
        (("small-opening", "--set-b", "design.publish=nope"), "(from --set-b design.publish=nope)"),
        (("small-opening", "--set-b", "design.publsh=dual_write"), "design.publsh: unknown field"),
        (("small-opening", "--set-b", "nokey"), "an override is KEY=VALUE"),
        (("small-opening",), "B: give a second scenario, or --set-b KEY=VALUE"),
        (("small-opening", "--set-b", BROKER_CRASH), "has no effect with --faults a"),
        (("small-opening", "small-opening", "--faults", "mine"), "--faults takes a, b or own, not 'mine'"),
        (("small-opening", "small-opening", "--scheduler", "notaurl"), "--scheduler: 'notaurl' is not a scheduler address"),
    ],
    ids=["unknown-scenario", "bad-set-b-value", "unknown-set-b-field", "set-b-without-value", "no-b", "set-b-faults",
         "bad-faults", "bad-scheduler"],
)
def test_bad_input_exits_2_with_a_clear_message_before_anything_runs(
    args: tuple[str, ...], message: str, tmp_path: Path, no_simulation: None
) -> None:
    out = tmp_path / "out"
    assert message in refused(cli("compare", *args, "--out", str(out)))
    assert list(tmp_path.iterdir()) == [], "nothing written"


def test_json_on_stdout_is_the_comparison_json_written_beside_the_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("compare", *SMALL, "--set", BROKER_CRASH, "--set-b", "design.publish=dual_write", "--seeds", "6",
                 "--workers", "2", "--out", str(out), "--json")
    assert result.exit_code == 1, result.output  # dual writes lose events while the broker is down
    printed = json.loads(result.stdout, parse_constant=lambda constant: pytest.fail(f"{constant} is not JSON"))
    assert printed == json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert printed["seeds"] == [1, 2, 3, 4, 5, 6]
    assert printed["a"]["label"] == "small-opening" and printed["b"]["label"] == "small-opening (design.publish=dual_write)"
    assert printed["faults"]["policy"] == "a" and printed["significance"] == 0.05
    lost = next(i for i in printed["invariants"] if i["id"] == "no-lost-events")
    assert lost["a"]["violated"] == 0 and lost["b"]["violated"] == 6 and lost["b"]["runs"] == 6
    assert set(lost["b"]["rate"]) == {"estimate", "low", "high", "n", "confidence", "method"}
    assert lost["significant"] is True and lost["worse"] == "b" and lost["p_value"] < 0.05
    measure = printed["measures"][0]
    assert set(measure) >= {"name", "unit", "a", "b", "difference", "p_value", "significant", "favours", "pairs"}
    assert [set(run) for run in printed["runs"]] == [{"seed", "a", "b"}] * 6
    assert printed["verdict"].startswith("Prefer A (small-opening): B breaks ")

    report = (out / "report.html").read_text(encoding="utf-8")
    body = report[report.index("<body>"):]
    assert body.index('class="verdict bad"') < body.index("Significant differences") < body.index(
        ">Invariants<") < body.index(">Measures<") < body.index("<img")
    assert "Prefer A (small-opening)" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "measure-means.png").read_bytes().startswith(b"\x89PNG")


def test_identical_sides_exit_0_and_draw_no_figure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = cli("compare", *SMALL, "small-opening", "--seeds", "2", "--workers", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    shown = flat(result.stdout)
    assert "No significant difference between A and B over 2 seeds" in shown
    comparison = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    unjudged = comparison["not_applicable"]
    assert unjudged["point-stores-agree"] == "A and B: no traffic shift to the split-out Point (design.point_shift=0)"
    assert f"Neither side broke any of the {len(INVARIANT_IDS) - len(unjudged)} invariants judged in any of the 2 seeds" in shown
    assert "Not applicable (no seed could judge it): " in shown and "point-stores-agree (A and B: no traffic" in shown
    stores = next(i for i in comparison["invariants"] if i["id"] == "point-stores-agree")
    assert stores["a"]["status"] == "not_applicable" and stores["a"]["runs"] == 0 and stores["a"]["rate"] is None
    assert stores["p_value"] is None
    assert "{" not in result.stdout, "no raw dicts on the console"
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "comparison.json", "report.html", "report.md"]
    assert "the two sides are identical" in (out / "report.md").read_text(encoding="utf-8")


def test_the_console_shows_tables_of_what_differs(tmp_path: Path) -> None:
    result = cli("compare", *SMALL, "--set", BROKER_CRASH, "--set-b", "design.publish=dual_write", "--seeds", "6",
                 "--workers", "2", "--out", str(tmp_path / "out"))
    shown = flat(result.stdout)
    assert "A = small-opening B = small-opening (design.publish=dual_write)" in shown
    assert "Invariants broken on either side" in shown and "Measures: mean [95% interval]" in shown
    assert "no-lost-events" in shown and "yes: B" in shown
    assert "{" not in result.stdout


def previous_result(out: Path) -> None:
    with StagedOutput(out) as staged:
        staged.open().write_text("comparison.json", '{"found": "yesterday"}\n')
        staged.commit()


def test_an_interruption_says_how_far_it_got_and_keeps_the_previous_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    previous_result(out)
    real_sweep = comparison_module.sweep

    def interrupted_during_b(scenario: Any, seeds: Any, **kwargs: Any) -> Any:
        if scenario.design.publish == "dual_write":
            raise KeyboardInterrupt
        return real_sweep(scenario, seeds, **kwargs)

    monkeypatch.setattr(comparison_module, "sweep", interrupted_during_b)
    result = cli("compare", *SMALL, "--set-b", "design.publish=dual_write", "--seeds", "3", "--workers", "1",
                 "--out", str(out))
    assert result.exit_code == 130
    assert "interrupted after 3 of 6 runs (A: 3 of 3 seeds, B: 0 of 3)" in flat(result.stderr)
    assert f"{out} keeps its previous results" in flat(result.stderr)
    assert (out / "comparison.json").read_text() == '{"found": "yesterday"}\n'


def test_the_help_states_the_exit_codes() -> None:
    shown = flat(cli("compare", "--help").stdout)
    assert "0 neither side broke an invariant" in shown and "1 either side did" in shown
    assert "2 bad input" in shown and "130 interrupted" in shown
