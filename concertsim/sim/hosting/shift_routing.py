"""Which Point serves a user during a gradual traffic shift (the strangler pattern, seed 9).

With ``design.point_shift`` = x percent of ``workload.users`` = n users, exactly round(n · x / 100)
users take the new path (the split-out Point service, :data:`NEW_POINT`, with its own database);
the others stay on the monolith's in-process Point. Which users is a percentage rollout as feature
flags do it: each user id is hashed to a stable position, and the users with the lowest positions
move first, so a larger share moves the same users and more, and the users moved are spread over
arrival order rather than the first ids. The choice is a function of (x, n, user) alone, so every
operation of one user, and so every step of one payment, takes the same path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

__all__ = ["NEW_POINT", "OLD_POINT", "ShiftRouting"]

NEW_POINT = "point_new"
"""The host of the split-out Point service while the shift runs."""
OLD_POINT = "point"
"""The monolith's in-process Point."""


def _position(user_id: int) -> bytes:
    """A stable pseudo-random position of ``user_id`` (the same in every process and version)."""
    return hashlib.blake2b(user_id.to_bytes(8, "big", signed=True), digest_size=8).digest()


@dataclass(frozen=True)
class ShiftRouting:
    """The router of a shift of ``percent`` of the users ``1..users`` to the split-out Point."""

    percent: int
    users: int

    @cached_property
    def shifted(self) -> frozenset[int]:
        """The ids of the users the split-out Point serves."""
        count = round(self.users * self.percent / 100)
        ranked = sorted(range(1, self.users + 1), key=lambda user_id: (_position(user_id), user_id))
        return frozenset(ranked[:count])

    def takes_new_path(self, user_id: int) -> bool:
        """Whether ``user_id``'s Point operations go to the split-out service."""
        return user_id in self.shifted

    def host_for(self, user_id: int) -> str:
        """The host whose store owns ``user_id``'s account."""
        return NEW_POINT if self.takes_new_path(user_id) else OLD_POINT
