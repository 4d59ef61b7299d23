"""What an invariant is, what a violation carries, what a verdict says, and the registry of all
invariants.

A verdict has three values (ARCHITECTURE.md, "What a verdict means"): **holds** (the promise was
judged on this run and kept), **violated** (it was broken, with evidence) and **not applicable**
(it could not be judged: its mechanism is off, or nothing in the run exercised it). Each invariant
declares how it decides applicability with ``applies``, one function of the finished run that
returns the reason it does not apply, or None when it does. A violation found is always reported:
``applies`` is asked only when the check found none, so a check can never hide a broken promise
behind "not applicable".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from concertsim.sim.run.result import RunResult

__all__ = [
    "Violation", "Invariant", "Verdict", "Status", "Applicability", "REGISTRY", "invariant", "always", "judge",
]

Status = Literal["holds", "violated", "not_applicable"]


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
Applicability = Callable[[RunResult], str | None]
"""Why an invariant cannot be judged on a run (its mechanism is off, nothing exercised it), or
None when it can. The reason completes "not applicable: ..." and names the switch or the missing
activity (``"Point's accounts are not event-sourced (design.point_storage=state)"``)."""


def always(result: RunResult) -> str | None:
    """The applicability of an invariant that every run can judge."""
    return None


@dataclass(frozen=True)
class Invariant:
    """A promise of the design. ``kind`` is ``safety`` (must hold at every moment) or
    ``convergence`` (must hold once faults are healed and the system has settled); ``applies``
    says when a run cannot judge it."""

    id: str
    kind: Literal["safety", "convergence"]
    promise: str
    check: Check
    applies: Applicability = always


@dataclass(frozen=True)
class Verdict:
    """An invariant judged on one run: its violations, or, when it could not be judged, the
    reason (``not_applicable``; then there are no violations).

    ``holds`` is true only for a promise judged and kept; ``violated`` only for one broken. A
    verdict that is not applicable is neither."""

    invariant: Invariant
    violations: list[Violation]
    not_applicable: str | None = None

    def __post_init__(self) -> None:
        if self.not_applicable is not None and self.violations:
            raise ValueError(f"{self.invariant.id}: a violated invariant cannot be not applicable")

    @property
    def status(self) -> Status:
        if self.violations:
            return "violated"
        return "not_applicable" if self.not_applicable is not None else "holds"

    @property
    def holds(self) -> bool:
        """Judged on the run, and kept."""
        return self.status == "holds"

    @property
    def violated(self) -> bool:
        return bool(self.violations)

    @property
    def applicable(self) -> bool:
        return self.not_applicable is None

    def to_json(self, limit: int = 20) -> dict[str, Any]:
        """``status`` is ``holds``, ``violated`` or ``not_applicable`` (with its ``reason``);
        ``holds`` stays what it was before verdicts had three values: true unless violated."""
        return {
            "id": self.invariant.id,
            "kind": self.invariant.kind,
            "promise": self.invariant.promise,
            "status": self.status,
            "reason": self.not_applicable,
            "holds": not self.violated,
            "violation_count": len(self.violations),
            "violations": [v.to_json() for v in self.violations[:limit]],
        }


def judge(definition: Invariant, result: RunResult) -> Verdict:
    """The verdict of ``definition`` on ``result``: its violations if the check finds any, else
    not applicable if ``applies`` gives a reason, else holds."""
    violations = definition.check(result)
    if violations:
        return Verdict(definition, violations)
    return Verdict(definition, [], definition.applies(result))


REGISTRY: dict[str, Invariant] = {}


def invariant(
    id: str, kind: Literal["safety", "convergence"], promise: str, applies: Applicability = always,
) -> Callable[[Check], Check]:
    """Register ``check`` as the invariant ``id``; ``applies`` says when a run cannot judge it
    (default: every run can)."""

    def register(check: Check) -> Check:
        REGISTRY[id] = Invariant(id, kind, promise, check, applies)
        return check

    return register
