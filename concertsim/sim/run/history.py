"""The client-observed history (Jepsen style): every operation a user invoked and how it ended.

``ok``: the system acknowledged it. ``fail``: the system said it did nothing. ``unknown``: no
definite answer came (a timeout): the operation may or may not have taken effect, and the checks
require that it ends as exactly one of the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ClientOp", "Outcome"]

Outcome = Literal["ok", "fail", "unknown"]


@dataclass(slots=True)
class ClientOp:
    """One operation of one user. ``detail`` holds what identifies its effect (reservation id)."""

    op_id: str
    user_id: int
    action: str
    route: str
    invoke_at: float
    complete_at: float | None = None
    outcome: Outcome | None = None
    error: str | None = None
    attempts: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "op_id": self.op_id,
            "user_id": self.user_id,
            "action": self.action,
            "route": self.route,
            "invoke_at": self.invoke_at,
            "complete_at": self.complete_at,
            "outcome": self.outcome,
            "error": self.error,
            "attempts": self.attempts,
            "detail": self.detail,
        }
