"""What an invariant is, what a violation carries, and the registry of all invariants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from concertsim.sim.result import RunResult

__all__ = ["Violation", "Invariant", "Verdict", "REGISTRY", "invariant"]


@dataclass(frozen=True)
class Violation:
    """One broken promise, with the evidence a reader needs to see it: the ids involved, the
    simulated time it shows at, the trace records (by sequence number) that led to it, and the
    reservation whose saga it belongs to, if any."""

    invariant: str
    message: str
    at: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    records: tuple[int, ...] = ()
    saga: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "invariant": self.invariant,
            "message": self.message,
            "at": self.at,
            "evidence": self.evidence,
            "records": list(self.records),
            "saga": self.saga,
        }


Check = Callable[[RunResult], list[Violation]]


@dataclass(frozen=True)
class Invariant:
    """A promise of the design. ``kind`` is ``safety`` (must hold at every moment) or
    ``convergence`` (must hold once faults are healed and the system has settled)."""

    id: str
    kind: Literal["safety", "convergence"]
    promise: str
    check: Check


@dataclass(frozen=True)
class Verdict:
    invariant: Invariant
    violations: list[Violation]

    @property
    def holds(self) -> bool:
        return not self.violations

    def to_json(self, limit: int = 20) -> dict[str, Any]:
        return {
            "id": self.invariant.id,
            "kind": self.invariant.kind,
            "promise": self.invariant.promise,
            "holds": self.holds,
            "violation_count": len(self.violations),
            "violations": [v.to_json() for v in self.violations[:limit]],
        }


REGISTRY: dict[str, Invariant] = {}


def invariant(id: str, kind: Literal["safety", "convergence"], promise: str) -> Callable[[Check], Check]:
    """Register ``check`` as the invariant ``id``."""

    def register(check: Check) -> Check:
        REGISTRY[id] = Invariant(id, kind, promise, check)
        return check

    return register
