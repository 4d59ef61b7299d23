"""The deletion pass: every single-element reduction is tried, and the result is 1-minimal."""

from __future__ import annotations

from concertsim.scenarios.schema import FaultSpec, Scenario
from concertsim.search.minimize import one_minimal, reductions
from concertsim.strategies import small_base

DROP_USE_REPLIES = FaultSpec(at=3.0, kind="drop", target="reply", duration=8.0,
                             match={"message_type": "point.use", "count": 2, "rate": 0.5})
CRASH_BROKER = FaultSpec(at=1.0, kind="crash", target="broker")
SLOW_POINT = FaultSpec(at=0.0, kind="slow", target="point", params={"factor": 5.0})


def scenario(*faults: FaultSpec, users: int = 3) -> Scenario:
    base = small_base()
    return base.model_copy(update={"faults": faults, "workload": base.workload.model_copy(update={"users": users})})


def test_reductions_delete_each_fault_remove_a_user_drop_each_clause_and_halve_each_duration() -> None:
    described = [d for d, _ in reductions(scenario(DROP_USE_REPLIES, CRASH_BROKER, users=3))]
    assert described[:2] == ["delete fault 0 (drop reply point.use at 3 s)", "delete fault 1 (crash broker at 1 s)"]
    assert "down to 2 users" in described
    clauses = [d for d in described if "filter clause" in d]
    assert clauses == [
        "fault 0: drop the filter clause message_type='point.use'",
        "fault 0: drop the filter clause count=2",
        "fault 0: drop the filter clause rate=0.5",
    ]
    assert "fault 0: duration 8 s -> 4 s" in described
    # A crash of duration 0 lasts the restart time, which is not the fault's to shorten.
    assert not any(d.startswith("fault 1: duration") for d in described)


def test_a_fault_until_heal_is_shortened_to_half_the_time_left() -> None:
    candidates = dict(reductions(scenario(SLOW_POINT, users=1)))
    duration = small_base().workload.duration
    shorter = candidates[f"fault 0: duration until heal -> {round(duration / 2, 1):g} s"]
    assert shorter.faults[0].duration == round(duration / 2, 1)


def test_the_last_clause_removed_drops_the_filter() -> None:
    only_type = FaultSpec(at=0, kind="drop", target="reply", match={"message_type": "point.use"})
    candidates = dict(reductions(scenario(only_type, users=1)))
    assert candidates["fault 0: drop the filter clause message_type='point.use'"].faults[0].match is None


def test_one_minimal_keeps_only_what_the_failure_needs() -> None:
    def fails(s: Scenario) -> bool:  # needs a dropped point.use reply and at least two users
        return s.workload.users >= 2 and any(
            f.kind == "drop" and f.match is not None and f.match.message_type == "point.use" for f in s.faults
        )

    result = one_minimal(scenario(CRASH_BROKER, DROP_USE_REPLIES, SLOW_POINT, users=5), fails)
    assert result.one_minimal
    (fault,) = result.scenario.faults
    assert fault.match is not None and fault.match.model_dump(exclude_defaults=True) == {"message_type": "point.use"}
    assert result.scenario.workload.users == 2
    assert fault.duration == 0.1
    assert result.checked == len(list(reductions(result.scenario)))
    assert all(not fails(candidate) for _, candidate in reductions(result.scenario))


def test_a_spent_budget_is_not_called_one_minimal() -> None:
    result = one_minimal(scenario(CRASH_BROKER, SLOW_POINT, users=4), lambda s: True, max_runs=2)
    assert not result.one_minimal
    assert result.runs == 2



def test_a_plan_the_search_re_timed_is_offered_back_as_the_base_had_it() -> None:
    from concertsim.ablation import ablated
    from concertsim.scenarios.migration_plan import MigrationStep

    base = ablated(small_base(), "migration.catch_up=false", "sync", ("design.topology=monolith",))
    assert base.migration is not None
    retimed = base.migration.model_copy(update={"steps": (
        MigrationStep(at=0.0, action="copy"), MigrationStep(at=2.0, action="shift", duration=5.0),
        MigrationStep(at=8.0, action="cutover"))})
    varied = base.model_copy(update={"migration": retimed})
    offered = dict(reductions(varied, base))
    assert offered["migration.steps back to the base's"].migration == base.migration
    assert "migration.steps back to the base's" not in dict(reductions(base, base))
