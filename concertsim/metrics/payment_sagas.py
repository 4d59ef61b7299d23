"""Orchestrated payments (``design.payment_flow: orchestration``): how the persisted payment sagas
ended, how many steps they took, and how many refunds the orchestrator commanded."""

from __future__ import annotations

from collections import Counter
from typing import Any

from concertsim.metrics.records import RecordsByKind
from concertsim.models.orchestration import SAGAS, SagaState
from concertsim.sim.run.result import RunResult

__all__ = ["payment_sagas"]


def payment_sagas(result: RunResult, records: RecordsByKind) -> dict[str, Any] | None:
    """None outside the orchestration flow; else ``sagas`` (how many began), ``by_state`` (every
    state -> the sagas ending in it, in the state machine's order), ``max_steps`` (the most
    transitions one saga took) and ``refund_commands`` (``point.refund`` requests sent, retries
    included)."""
    if result.scenario.design.payment_flow != "orchestration":
        return None
    sagas = list(result.table("reservation", SAGAS).values())
    ended = Counter(saga.state for saga in sagas)
    return {
        "sagas": len(sagas),
        "by_state": {state.value: ended.get(state, 0) for state in SagaState},
        "max_steps": max((saga.steps for saga in sagas), default=0),
        "refund_commands": sum(1 for r in records.get("call.send", ()) if r.data["endpoint"] == "point.refund"),
    }
