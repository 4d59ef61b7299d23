"""What a notebook shows for a run: the verdict first, the broken invariants, the funnel figure
inline, and every string from the scenario escaped."""

from __future__ import annotations

from concertsim.api import run
from concertsim.scenarios.schema import INVARIANT_IDS


def test_a_run_shows_its_verdict_and_escapes_what_the_scenario_says() -> None:
    outcome = run("small-opening", overrides=["workload.users=5", "name=<script>alert(1)</script>"])
    shown = outcome._repr_html_()
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    counts = f"{len(outcome.held)} invariants hold, {len(outcome.not_applicable)} not applicable ("
    assert outcome.not_applicable and shown.index(counts) < shown.index("data:image/png;base64,")


def test_a_run_shows_the_invariants_it_could_not_judge_apart_from_those_held() -> None:
    shown = run("small-opening", overrides=["workload.users=5"])._repr_html_()
    held = shown[shown.index("Held: "):].split("</p>")[0]
    assert "point-stores-agree" not in held and "point-replay-consistent" not in held
    assert "n/a: no traffic shift to the split-out Point (design.point_shift=0)" in shown


def test_a_broken_run_lists_its_broken_invariants_with_their_first_violation() -> None:
    from pathlib import Path

    case = Path(__file__).parents[1] / "properties" / "cases" / "reply-lost-after-deduction.yaml"
    shown = run(case, overrides=["design.compensation=false"])._repr_html_()
    assert f"broke 2 of {len(INVARIANT_IDS)} invariants" in shown
    assert "no-orphaned-deduction" in shown and "points taken for nothing" in shown
