"""The record of one planted defect, and the shorthands the catalogue's modules write witnesses in."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Defect", "FLOWS", "BOTH", "SYNC", "ORCHESTRATION", "RICH", "CHOREOGRAPHY", "faults"]

FLOWS = ("sync", "choreography", "orchestration")
"""The payment flows a defect may name (``design.payment_flow``)."""

BOTH = ("sync", "choreography")
SYNC = ("sync",)
ORCHESTRATION = ("orchestration",)

RICH = ("workload.initial_points=200000", "workload.abandon_probability=0")
"""Buyers who can pay and do: every seat is fought over and paid for."""
CHOREOGRAPHY = "design.payment_flow=choreography"


def faults(*specs: str) -> str:
    """A ``--set`` override of the scenario's fault schedule, from YAML flow mappings."""
    return f"faults=[{', '.join(specs)}]"


@dataclass(frozen=True)
class Defect:
    """One realistic defect: replace ``before`` (an exact snippet occurring exactly once in
    ``path``, relative to the repository) by ``after``. ``flows`` are the payment flows whose
    behaviour it changes; ``why`` says in one sentence what a team would have got wrong and which
    promise it breaks.

    ``scenario`` is the built-in scenario a user would pick to exercise the defect's mechanism:
    its witness runs on it and the search-power benchmark explores it. ``witness`` holds the
    ``--set`` overrides of ``scenario`` (after ``settings``) under which the planted copy behaves differently from a
    clean copy: a different trace, or different verdicts (for state the trace does not show, such
    as the ranking). Evidence that the defect changes behaviour, not a claim about whether the
    verifier finds it."""

    id: str
    path: str
    before: str
    after: str
    flows: tuple[str, ...]
    why: str
    witness: tuple[str, ...] = ()
    scenario: str = "small-opening"
    settings: tuple[str, ...] = ()
    """``--set`` overrides of ``scenario`` that switch the defect's mechanism on where the built-in
    leaves it off (a RabbitMQ consumer's delay-queue retries, say), applied to the witness and to
    every search of the defect."""
