"""Which Point serves a user during a gradual traffic shift (the strangler pattern, seed 9).

With ``design.point_shift`` = x, users whose ``user_id % 100`` is below x take the new path (the
split-out Point service, :data:`NEW_POINT`, with its own database); the others stay on the
monolith's in-process Point. The bucket is a function of the user alone, so every operation of
one user, and so every step of one payment, takes the same path.
"""

from __future__ import annotations

__all__ = ["NEW_POINT", "OLD_POINT", "takes_new_path", "point_host_for"]

NEW_POINT = "point_new"
"""The host of the split-out Point service while the shift runs."""
OLD_POINT = "point"
"""The monolith's in-process Point."""


def takes_new_path(shift: int, user_id: int) -> bool:
    """Whether ``user_id``'s Point operations go to the split-out service at ``shift`` percent."""
    return user_id % 100 < shift


def point_host_for(shift: int, user_id: int) -> str:
    """The host whose store owns ``user_id``'s account at ``shift`` percent."""
    return NEW_POINT if takes_new_path(shift, user_id) else OLD_POINT
