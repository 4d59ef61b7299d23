"""A migration plan as data: the timed steps that move one service's data and traffic out of the
monolith during a run (seed 9, "migration in motion"), and the safeguards of the move.

A plan names its service (Point, the first the seed splits out, from the monolith; or Queue, the
second, from what is left of it once Point is apart) and its steps, each at a simulated time: ``copy`` starts copying the service's data to the new store (a snapshot, then the changes the
old store commits after it), ``verify`` compares the two stores and counts the rows that differ,
``shift`` moves the users to the new service bucket by bucket over ``duration`` seconds (0 → 100 %),
``cutover`` fences writes to the old store, moves every user not moved yet (all of them at once
without a ``shift``: a big-bang switch) and stops copying, ``rollback`` sends every user back to
the old store. Queue's waiting line is one ordered aggregate (a token's place depends on every token
issued before it), so a Queue plan has no ``shift``: its cutover moves the whole line at once.
Concert (third, once Queue is apart too) has no ``shift`` either: its seat view and ranking are one
projection of every buyer's events, so its cutover moves the projection and every read at once.
Reservation (last, once Concert is apart too) has no ``shift`` either: a seat's row is every
buyer's, so its cutover moves its data, calls, jobs and event handlers at once.
The runtimes are :mod:`concertsim.sim.run.point_migration`, :mod:`concertsim.sim.run.queue_migration`,
:mod:`concertsim.sim.run.concert_migration` and :mod:`concertsim.sim.run.reservation_migration`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from concertsim.scenarios.fields import FrozenModel, NonNegativeSeconds, PositiveSeconds

__all__ = ["MigrationStep", "MigrationPlan", "STEP_ACTIONS", "STAGE_BEFORE", "SEED_ORDER", "default_steps"]

STEP_ACTIONS = ("copy", "verify", "shift", "cutover", "rollback")
SEED_ORDER = ("point", "queue", "concert", "reservation")
"""The order the seed splits the services out of the monolith in (seed 9)."""
STAGE_BEFORE = {"point": "monolith", "queue": "point_split", "concert": "queue_split",
                "reservation": "concert_split"}
"""The stage (``design.topology``) a plan of each service runs at: the service still in the
monolith, every service the seed moves before it already apart."""


class MigrationStep(FrozenModel):
    """One step of a plan: ``action`` at ``at`` seconds; a ``shift`` ramps over ``duration``."""

    at: NonNegativeSeconds
    action: Literal["copy", "verify", "shift", "cutover", "rollback"]
    duration: NonNegativeSeconds = 0.0

    @model_validator(mode="after")
    def _ramp_only_for_shift(self) -> MigrationStep:
        if self.action == "shift" and self.duration <= 0:
            raise ValueError("a shift ramps its users over a duration: give duration > 0 seconds")
        if self.action != "shift" and self.duration:
            raise ValueError(f"duration is the ramp of a shift; a {self.action} step takes none")
        return self


class MigrationPlan(FrozenModel):
    """How a service's data and traffic move to its new store during the run, and the safeguards
    of the move, each a switch whose default is what teams do in practice (docs/design.md,
    "Migration in motion")."""

    service: Literal["point", "queue", "concert", "reservation"] = "point"
    capture: Literal["cdc", "dual_write"] = "cdc"
    """How the old store's changes reach the new one after the snapshot: ``cdc`` tails the old
    store's commit log in commit order (Debezium's snapshot then streaming); ``dual_write`` has the
    service write each change to the other store itself after its commit, once, as a separate
    request: a lost request is a change the other store never gets."""
    acks: bool = True
    """With ``cdc``: a batch of changes is re-sent until the new store acknowledges it (the log
    position advances only on the acknowledgement). False sends each batch once."""
    verify: bool = True
    """``verify`` steps compare the stores; a mismatch rolls the plan back
    (``rollback_on_mismatch``). False skips them: the plan goes on whatever the stores hold."""
    rollback_on_mismatch: bool = True
    verify_timeout: PositiveSeconds = 30.0
    """How long a ``verify`` waits for the copy to catch up before comparing anyway."""
    catch_up: bool = True
    """A user moves only once the new store has applied every change the old store committed (as
    Vitess waits for the target to catch up before switching). False moves users on the ramp's
    clock whatever the copy's lag."""
    fence: bool = True
    """The old store refuses the writes of a user who has moved, and from the ``cutover`` every
    write to the service's tables of its own (as Vitess stops writes on the source when it
    switches). False leaves it writable for requests still routed there."""
    propagation: NonNegativeSeconds = 1.0
    """How long after a move (or the cutover, or a rollback) the routers send the user's calls to
    the new owner: a routing change pushed to the gateway and the monolith's callers."""
    shift_interval: PositiveSeconds = 1.0
    """How often the ramp moves the next users."""
    steps: tuple[MigrationStep, ...] = ()
    """The timed steps; empty: :func:`default_steps` over the workload."""
    then: MigrationPlan | None = None
    """The plan of the next service in the seed's order, run in the same run once this plan has
    cut over (a chain: Point, then Queue, then Concert, then Reservation). A plan followed by
    another lists its steps, ends with its cutover, and the next plan's copy comes at or after it;
    if this plan is rolled back (by a failed verify), the plans after it are not started."""

    @model_validator(mode="after")
    def _steps_in_order(self) -> MigrationPlan:
        steps = self.steps
        if not steps:
            return self
        for position in range(1, len(steps)):
            if steps[position].at < steps[position - 1].at:
                raise ValueError(f"steps[{position}].at: {steps[position].at:g} s is before the step above it "
                                 f"({steps[position - 1].at:g} s): list the steps in time order")
        shifts = [i for i, step in enumerate(steps) if step.action == "shift"]
        if self.service == "queue" and shifts:
            raise ValueError(f"steps[{shifts[0]}].action: Queue's waiting line is one ordered aggregate (each "
                             "token's place depends on the tokens before it): it moves at once at a cutover, "
                             "not user by user in a shift")
        if self.service == "concert" and shifts:
            raise ValueError(f"steps[{shifts[0]}].action: Concert's seat view and ranking are one projection of "
                             "every buyer's events (a seat's row is no one user's): its owner moves at once at a "
                             "cutover, not user by user in a shift")
        if self.service == "reservation" and shifts:
            raise ValueError(f"steps[{shifts[0]}].action: Reservation's seats are every buyer's (a seat's row is no "
                             "one user's, and its payment saga spans the hold and the payment): it moves at once at "
                             "a cutover, not user by user in a shift")
        if steps[0].action != "copy":
            raise ValueError("steps[0].action: a plan starts with copy: nothing can be verified, shifted or cut over "
                             "before the new store holds the data")
        for action in ("copy", "shift", "cutover", "rollback"):
            named = [i for i, step in enumerate(steps) if step.action == action]
            if len(named) > 1:
                raise ValueError(f"steps[{named[1]}].action: a plan has at most one {action}")
        by_action = {step.action: (i, step) for i, step in enumerate(steps)}
        if "cutover" in by_action:
            position, cutover = by_action["cutover"]
            _, shift = by_action.get("shift", (0, cutover))
            if shift is not cutover and cutover.at < shift.at + shift.duration:
                raise ValueError(f"steps[{position}].at: the cutover at {cutover.at:g} s is before the shift ends at "
                                 f"{shift.at + shift.duration:g} s")
        if "rollback" in by_action:
            position, _ = by_action["rollback"]
            if position != len(steps) - 1:
                raise ValueError(f"steps[{position + 1}]: nothing follows a rollback (the plan ends there)")
        return self

    @model_validator(mode="after")
    def _chained_in_the_seeds_order(self) -> MigrationPlan:
        then = self.then
        if then is None:
            return self
        following = SEED_ORDER[SEED_ORDER.index(self.service) + 1:]
        if not following or then.service != following[0]:
            expected = f"{following[0]}" if following else "no service (Reservation moves last)"
            raise ValueError(f"then.service: after {self.service} the seed moves {expected}, not {then.service}")
        if not self.steps or not then.steps:
            raise ValueError("steps: a plan followed by another (then:) lists its steps, and so does the next one")
        if self.steps[-1].action != "cutover":
            raise ValueError(f"steps[{len(self.steps) - 1}].action: a plan followed by another ends with its "
                             f"cutover (the next service moves once {self.service} is apart), not a "
                             f"{self.steps[-1].action}")
        if then.steps[0].at < self.steps[-1].at:
            raise ValueError(f"then.steps[0].at: {then.service}'s copy at {then.steps[0].at:g} s is before "
                             f"{self.service}'s cutover at {self.steps[-1].at:g} s")
        return self

    def chain(self) -> tuple[MigrationPlan, ...]:
        """This plan and every plan after it (``then``), in the order they run."""
        return (self, *(self.then.chain() if self.then is not None else ()))

    def plan_of(self, service: str) -> MigrationPlan | None:
        """The plan of the chain that moves ``service``, if any."""
        return next((plan for plan in self.chain() if plan.service == service), None)

    def steps_for(self, workload_duration: float) -> tuple[MigrationStep, ...]:
        """The plan's steps, or :func:`default_steps` for ``workload_duration`` if it lists none."""
        return self.steps or default_steps(workload_duration, self.service)


def default_steps(workload_duration: float, service: str = "point") -> tuple[MigrationStep, ...]:
    """A plan spread over a workload of ``workload_duration`` seconds: copy at the start, verify,
    shift over the middle two fifths, verify again, cut over; for Queue, Concert and Reservation (no
    shift) copy at the start, verify, and cut over in the middle of the workload."""
    d = workload_duration
    if service in ("queue", "concert", "reservation"):
        return (
            MigrationStep(at=0.0, action="copy"),
            MigrationStep(at=round(0.45 * d, 3), action="verify"),
            MigrationStep(at=round(0.5 * d, 3), action="cutover"),
        )
    return (
        MigrationStep(at=0.0, action="copy"),
        MigrationStep(at=round(0.15 * d, 3), action="verify"),
        MigrationStep(at=round(0.2 * d, 3), action="shift", duration=round(0.4 * d, 3)),
        MigrationStep(at=round(0.65 * d, 3), action="verify"),
        MigrationStep(at=round(0.7 * d, 3), action="cutover"),
    )

