"""The grid of a sweep: --matrix parsed and checked like --set, the cartesian product of its
values, and the fingerprint that tells one sweep from another."""

from __future__ import annotations

import pytest

from concertsim.sweep import MatrixError, SweepPlan, parse_matrix
from tests.conftest import small_scenario


def build(*matrix: str, seeds: range = range(1, 3), overrides: tuple[str, ...] = ()) -> SweepPlan:
    return SweepPlan.build(small_scenario(*overrides), parse_matrix(matrix, overrides), seeds)


def test_the_grid_is_the_cartesian_product_with_the_first_key_slowest() -> None:
    plan = build("design.payment_flow=sync,choreography", "workload.users=5,10,15")
    assert [cell.label for cell in plan.cells] == [
        f"design.payment_flow={flow}, workload.users={users}"
        for flow in ("sync", "choreography") for users in (5, 10, 15)
    ]
    assert [(c.scenario.design.payment_flow, c.scenario.workload.users) for c in plan.cells][-1] == ("choreography", 15)
    assert plan.cells[0].values == {"design.payment_flow": "sync", "workload.users": 5}
    assert plan.total_runs == 12 and plan.seeds == (1, 2)


def test_without_a_matrix_the_sweep_is_one_cell_of_the_scenario_as_given() -> None:
    plan = build(overrides=("workload.users=7",))
    (cell,) = plan.cells
    assert cell.label == "" and cell.scenario == plan.base and cell.scenario.workload.users == 7
    assert not plan.swept


def test_a_value_may_be_a_yaml_flow_collection_with_commas() -> None:
    plan = build("faults=[],[{at: 1, kind: crash, target: point, duration: 5}]")
    assert [len(cell.scenario.faults) for cell in plan.cells] == [0, 1]


@pytest.mark.parametrize(
    ("matrix", "key", "reason"),
    [
        (["nosuch.field=1,2"], "nosuch.field", "unknown field"),
        (["design.publish=outbox,carrier_pigeon"], "design.publish", "'carrier_pigeon'"),
        (["workload.users=5,many"], "workload.users", "valid integer"),
        (["workload.users=-5"], "workload.users", "greater than or equal to 0"),
        (["workload.users="], "workload.users", "no values"),
        (["workload.users=5,,10"], "workload.users", "value 2 of 3 is empty"),
        (["workload.users=5", "workload.users=10"], "workload.users", "given twice"),
        (["workload.users=5,5"], "workload.users", "'5' is given twice"),
        (["design.compensation=true,yes"], "design.compensation", "the same value as 'true'"),
        (["design={publish: outbox}", "design.publish=outbox"], "design.publish", "overlaps the swept key design"),
        (["seed=1,2"], "seed", "--seeds"),
        (["design.publish"], "design.publish", "is not KEY=V1,V2"),
    ],
)
def test_a_bad_matrix_is_refused_naming_the_option_the_key_and_the_reason(matrix: list[str], key: str, reason: str) -> None:
    with pytest.raises(MatrixError) as refused:
        build(*matrix)
    message = str(refused.value)
    assert message.startswith(f"--matrix {key}: ") and reason in message and "\n" not in message


def test_a_key_also_given_with_set_is_refused() -> None:
    with pytest.raises(MatrixError, match=r"--matrix workload.users: also given with --set workload.users"):
        parse_matrix(["workload.users=5,10"], ["workload.users=7"])


def test_the_fingerprint_names_the_runs_not_the_order_they_were_asked_for() -> None:
    plan = build("design.publish=outbox,dual_write", "workload.users=5,10")
    assert build("workload.users=10,5", "design.publish=dual_write,outbox").fingerprint == plan.fingerprint
    others = [
        build("design.publish=outbox,dual_write", "workload.users=5,11"),
        build("design.publish=outbox,dual_write", "workload.users=5,10", seeds=range(1, 4)),
        build("design.publish=outbox,dual_write", "workload.users=5,10", overrides=("workload.patience=99",)),
        build("design.publish=outbox,dual_write"),
    ]
    assert len({plan.fingerprint, *(other.fingerprint for other in others)}) == 5
