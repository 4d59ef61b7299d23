"""The plan of a comparison: both sides get the same seeds and, by default, A's fault schedule;
labels say what differs; every override that cannot work or could have no effect is refused
before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from concertsim.comparison import ComparisonError, plan_comparison
from concertsim.scenarios.loader import builtin_path

BROKER_CRASH = "faults=[{at: 5, kind: crash, target: broker, duration: 10}]"


def scenario_file(folder: Path, name: str, **fields: object) -> Path:
    """The built-in small opening as a file, with ``fields`` replaced."""
    data = yaml.safe_load(builtin_path("small-opening").read_text(encoding="utf-8"))
    data.update(name=name, **fields)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_both_sides_run_a_seed_and_the_ones_after_it_whatever_b_says(tmp_path: Path) -> None:
    a = scenario_file(tmp_path, "a", seed=7)
    b = scenario_file(tmp_path, "b", seed=99)
    plan = plan_comparison(a, b, seeds=4)
    assert plan.seeds == (7, 8, 9, 10)
    assert "Both sides run seeds 7 to 10" in plan.seed_note and "B's own seed (99) is not used" in plan.seed_note


def test_a_variant_of_one_scenario_is_labelled_by_its_override() -> None:
    plan = plan_comparison("small-opening", only_b=["design.publish=dual_write"], seeds=3)
    assert plan.a.label == "small-opening"
    assert plan.b.label == "small-opening (design.publish=dual_write)"
    assert plan.b.scenario.design.publish == "dual_write" and plan.a.scenario.design.publish == "outbox"
    assert [(d.field, d.a, d.b) for d in plan.differences] == [("design.publish", "outbox", "dual_write")]
    assert plan.a.run_command(1) == "concertsim run small-opening --seed 1"
    assert plan.b.run_command(2) == "concertsim run small-opening --seed 2 --set design.publish=dual_write"


def test_identical_sides_get_labels_that_tell_them_apart() -> None:
    plan = plan_comparison("small-opening", "small-opening", seeds=2)
    assert plan.identical and plan.a.label != plan.b.label


def test_b_runs_a_fault_schedule_by_default_and_the_report_says_so() -> None:
    plan = plan_comparison("small-opening", only_b=[BROKER_CRASH], faults="own", seeds=1)
    assert len(plan.b.scenario.faults) == 1 and not plan.a.scenario.faults
    assert "Each side runs its own fault schedule" in plan.fault_note

    plan = plan_comparison("broker-outage", "dual-write", seeds=1)
    assert plan.b.scenario.faults == plan.a.scenario.faults
    assert plan.b.faults_replaced and not plan.a.faults_replaced
    assert ("B's own (1 fault: crash broker at 10 s for 20 s) was replaced by A's "
            "(1 fault: crash broker at 10 s for 30 s)") in plan.fault_note
    assert plan.b.run_command(1) is None, "B's own file would not reproduce the run"

    plan = plan_comparison("small-opening", "broker-outage", faults="b", seeds=1)
    assert plan.a.scenario.faults == plan.b.scenario.faults != ()
    assert plan.a.faults_replaced


def test_shared_overrides_apply_to_both_sides() -> None:
    plan = plan_comparison("small-opening", only_b=["design.compensation=false"], shared=[BROKER_CRASH, "seed=5"],
                           seeds=2)
    assert plan.a.scenario.faults == plan.b.scenario.faults and len(plan.a.scenario.faults) == 1
    assert plan.seeds == (5, 6)
    assert [d.field for d in plan.differences] == ["design.compensation"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"a": "smal-opening", "b": "small-opening"}, "A: smal-opening: no such file or built-in scenario"),
        ({"a": "small-opening", "b": "no-such"}, "B: no-such: no such file or built-in scenario"),
        ({"a": "small-opening", "only_b": ["design.publish=nope"]}, "(from --set-b design.publish=nope)"),
        ({"a": "small-opening", "only_a": ["design.publsh=x"], "b": "small-opening"},
         "design.publsh: unknown field"),
        ({"a": "small-opening"}, "B: give a second scenario, or --set-b KEY=VALUE"),
        ({"a": "small-opening", "only_b": ["seed=3"]}, "--set-b seed=3: has no effect, both sides run A's seeds"),
        ({"a": "small-opening", "only_b": [BROKER_CRASH]}, f"--set-b {BROKER_CRASH}: has no effect with --faults a"),
        ({"a": "small-opening", "b": "small-opening", "only_a": [BROKER_CRASH], "faults": "b"},
         "has no effect with --faults b"),
        ({"a": "small-opening", "b": "small-opening", "faults": "mine"}, "--faults takes a, b, own, not 'mine'"),
        ({"a": "small-opening", "b": "small-opening", "seeds": 0}, "--seeds: at least one seed"),
    ],
    ids=["unknown-a", "unknown-b", "bad-set-b-value", "unknown-set-a-field", "no-b", "set-b-seed", "set-b-faults",
         "set-a-faults-with-b", "bad-policy", "no-seeds"],
)
def test_what_cannot_be_compared_is_refused_naming_the_side_and_the_option(kwargs: dict, message: str) -> None:
    kwargs.setdefault("seeds", 2)
    with pytest.raises(ComparisonError) as refused:
        plan_comparison(**kwargs)
    assert message in str(refused.value)
