"""The waiting room (seed 2)."""

from __future__ import annotations

from .defect import Defect, BOTH

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="queue-activates-one-over-capacity",
        path="concertsim/models/queue.py",
        before="    while state.active_count < capacity and state.head_seq < state.next_seq:",
        after="    while state.active_count <= capacity and state.head_seq < state.next_seq:",
        flows=BOTH,
        why="An off-by-one in the activation loop admits one more buyer than the waiting room's "
        "capacity (queue-capacity).",
        witness=("workload.users=30",),
    ),
)
