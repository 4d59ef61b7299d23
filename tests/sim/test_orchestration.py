"""The orchestrated payment flow: a persisted saga the orchestrator drives to the end, commands
Point to compensate, and resumes after a crash."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from concertsim.api import RunOutcome, run
from concertsim.models import orchestration
from concertsim.models.orchestration import SagaState

LOST_REPLY = Path(__file__).parents[1] / "properties" / "cases" / "reply-lost-after-deduction.yaml"
ORCHESTRATED = ["design.payment_flow=orchestration", "workload.users=5", "workload.abandon_probability=0",
                "workload.initial_points=100000"]
SLOW_POINT = "{at: 0, kind: slow, target: point, duration: 60, params: {factor: 50}}"


def sagas(outcome: RunOutcome) -> Counter[str]:
    return Counter(str(s.state) for s in outcome.result.table("reservation", orchestration.SAGAS).values())


def labels(outcome: RunOutcome) -> list[str]:
    return [r.data["label"] for r in outcome.result.trace.records if r.kind == "tx.commit"]


def test_every_paid_hold_ends_confirmed_through_its_saga() -> None:
    outcome = run("small-opening", overrides=ORCHESTRATED)
    assert outcome.violated == []
    assert sagas(outcome) == Counter({"CONFIRMED": outcome.metrics["funnel"]["confirmed"]})
    assert "reservation.start_saga" in labels(outcome) and "reservation.saga_step" in labels(outcome)


def test_a_payment_whose_deduction_went_unanswered_is_compensated_by_command() -> None:
    outcome = run(LOST_REPLY, overrides=["design.payment_flow=orchestration"])
    assert outcome.violated == []
    assert sagas(outcome) == Counter({"COMPENSATED": 1})
    assert "point.refund" in labels(outcome)
    # Point refunds on the orchestrator's command, not on ReservationFailedEvent
    assert not any(r.kind == "consumer.handled" and r.data["group"] == "point" for r in outcome.result.trace.records)


def test_without_compensation_the_orchestrator_leaves_the_deduction_and_the_checks_say_so() -> None:
    outcome = run(LOST_REPLY, overrides=["design.payment_flow=orchestration", "design.compensation=false"])
    assert sagas(outcome) == Counter({"FAILED": 1})
    assert outcome.violated == ["no-orphaned-deduction", "client-outcomes-honoured"]


def test_a_saga_orphaned_by_a_crash_is_adopted_and_finished_by_the_restarted_host() -> None:
    first_saga = next(r.at for r in run("small-opening", overrides=[*ORCHESTRATED, f"faults=[{SLOW_POINT}]"])
                      .result.trace.records if r.kind == "tx.commit" and r.data["label"] == "reservation.start_saga")
    crash = f"{{at: {first_saga + 0.05:.3f}, kind: crash, target: reservation, duration: 3}}"
    outcome = run("small-opening", overrides=[*ORCHESTRATED, f"faults=[{SLOW_POINT}, {crash}]"])
    assert outcome.violated == []
    done = labels(outcome)
    assert "reservation.resume_sagas" in done
    assert done.index("reservation.resume_sagas") < done.index("reservation.saga_step")
    adopted = outcome.result.table("reservation", orchestration.SAGAS)["pay-res-1"]
    assert adopted.driver == 1 and adopted.state == SagaState.CONFIRMED


def test_a_saga_retries_an_unanswered_deduction_while_the_hold_has_time_instead_of_compensating() -> None:
    lost_for_a_while = "{at: 0, kind: drop, target: reply, duration: 10, match: {message_type: point.use}}"
    outcome = run("small-opening", overrides=[*ORCHESTRATED, f"faults=[{lost_for_a_while}]"])
    assert outcome.violated == []
    assert sagas(outcome) == Counter({"CONFIRMED": 5})
    assert "point.refund" not in labels(outcome)


def test_a_saga_answered_took_nothing_after_the_sweeper_failed_its_payment_compensates() -> None:
    """Its hold was swept while a request was out (the payment failed, in doubt); Point then answers
    "unavailable". The saga must compensate, not decline: a copy of a request still travelling may
    deduct once Point recovers, and only a command leaves Point a tombstone or a refund."""
    outcome = run(Path(__file__).parent / "cases" / "saga-declined-after-its-hold-was-swept.yaml")
    assert sagas(outcome) == Counter({"COMPENSATED": 1})
    assert outcome.violated == []


def test_with_replicas_a_declined_saga_whose_hold_expires_is_compensated_by_the_sweepers_replica() -> None:
    # Point fails every commit for 30 s: each deduction is answered "unavailable" until the hold
    # runs out, and the saga ends DECLINED on the replica that drove it. When the sweeper (on the
    # lease holder) expires the hold it reopens the saga for compensation; the recovery job adopts
    # only the sagas of a replica that left the group, so the sweeper's replica drives it.
    outcome = run("small-opening", overrides=[
        "design.payment_flow=orchestration", "services.reservation.replicas=2", "workload.users=1",
        "workload.abandon_probability=0", "workload.initial_points=100000",
        "faults=[{at: 0, kind: commit_failure, target: point, duration: 30}]"])
    assert outcome.violated == []
    assert sagas(outcome) == Counter({"COMPENSATED": 1})
    driven = outcome.result.table("reservation", orchestration.SAGAS)["pay-res-1"].driver
    holder = next(r.data["lease"] for r in outcome.result.trace.of_kind("broker.rebalance"))
    assert driven == f"{holder}@0"
