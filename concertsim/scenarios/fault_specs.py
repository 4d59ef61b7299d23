"""Fault schedules as data: which faults exist, what they strike, with which parameters.

The runtime's side of each fault is in :mod:`concertsim.sim.run.faults`; this module only describes
and validates them (a fault naming a target its kind cannot strike is an error naming the field).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from concertsim.scenarios.fields import (
    CHANNELS,
    DOMAIN_SERVICES,
    MAX_REPLICAS,
    PARTIES,
    SERVICE_NAMES,
    FrozenModel,
    NonNegativeSeconds,
    PlainLine,
    Probability,
    replica_of,
)

__all__ = ["MessageFilter", "FaultKind", "FaultSpec", "MESSAGE_FAULTS", "FAULT_PARAMS", "PARAM_RANGES", "target_problem"]


class MessageFilter(FrozenModel):
    """Which messages a message fault strikes. Every given field must match; occurrence counting
    (``skip``, ``count``) applies to the messages that match."""

    message_type: PlainLine | None = Field(None, description="event type or endpoint name")
    key: PlainLine | None = None
    group: PlainLine | None = Field(None, description="consumer group (broker deliveries)")
    source: PlainLine | None = None
    destination: PlainLine | None = None
    skip: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    count: Annotated[int, Field(ge=1, le=1_000_000_000)] | None = None
    rate: Probability = 1.0


FaultKind = Literal[
    "crash",
    "partition",
    "drop",
    "duplicate",
    "delay",
    "reorder",
    "slow",
    "commit_failure",
    "clock_skew",
    "pause",
]


class FaultSpec(FrozenModel):
    """One fault: ``kind`` strikes ``target`` from ``at`` for ``duration`` seconds.

    Targets by kind:

    - ``crash``: a service (every replica of it), one replica (``point#2``), ``gateway``, ``broker``,
      ``relay:<service>`` (the outbox relay only) or ``consumer:<service>`` (that service's consumers
      only, on every replica). ``duration`` 0 means the target's restart time.
    - ``partition``: ``a|b`` cuts both directions, ``a->b`` only messages from a to b; parties are
      the services, ``gateway``, ``broker`` and ``client``.
    - ``drop``, ``duplicate``, ``delay``, ``reorder``: a message channel (``request``, ``reply``,
      ``publish``, ``ack``, ``delivery``, ``offset_commit``), narrowed by ``match``. ``delay`` takes
      ``params.seconds``; ``reorder`` holds each struck message back a random time up to
      ``params.window`` so later ones overtake it.
    - ``slow`` (``params.factor``), ``clock_skew`` (``params.seconds``): a service (every replica)
      or one replica; ``commit_failure`` (``params.rate``): a service's database.
    - ``pause``: a service (every replica) or one replica stops running for ``duration`` seconds
      and then resumes where it was, unaware that time passed (a stop-the-world GC pause, a frozen
      VM): no steps, no replies, no heartbeats. ``duration`` 0 means until the heal phase.

    Except for ``crash``, ``duration`` 0 means "until the heal phase".
    """

    at: NonNegativeSeconds
    kind: FaultKind
    target: PlainLine = Field(min_length=1)
    duration: NonNegativeSeconds = 0.0
    match: MessageFilter | None = None
    params: dict[str, Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target_fits_kind(self) -> FaultSpec:
        problem = target_problem(self.kind, self.target)
        if problem:
            raise ValueError(problem)
        if self.kind == "delay" and self.params.get("seconds", 0.0) < 0:
            raise ValueError("params.seconds of a delay must not be negative")
        unknown = set(self.params) - set(FAULT_PARAMS[self.kind])
        if unknown:
            raise ValueError(
                f"{self.kind} takes params {sorted(FAULT_PARAMS[self.kind]) or 'none'}, "
                f"not {sorted(unknown)}"
            )
        if self.match is not None and self.kind not in MESSAGE_FAULTS:
            raise ValueError(f"match applies to message faults {MESSAGE_FAULTS}, not {self.kind}")
        for name, value in self.params.items():
            low, high, meaning = PARAM_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f"params.{name} = {value} is outside [{low}, {high}] ({meaning})")
        return self


MESSAGE_FAULTS = ("drop", "duplicate", "delay", "reorder")
FAULT_PARAMS: dict[str, tuple[str, ...]] = {
    "crash": (),
    "partition": (),
    "drop": (),
    "duplicate": ("gap",),
    "delay": ("seconds",),
    "reorder": ("window",),
    "slow": ("factor",),
    "commit_failure": ("rate",),
    "clock_skew": ("seconds",),
    "pause": (),
}


PARAM_RANGES: dict[str, tuple[float, float, str]] = {
    "gap": (0.0, 3600.0, "seconds between a message and its duplicate"),
    "seconds": (-86_400.0, 86_400.0, "seconds of delay or of clock skew"),
    "window": (0.0, 3600.0, "seconds a reordered message may be held back"),
    "factor": (0.001, 10_000.0, "how many times slower the service gets"),
    "rate": (0.0, 1.0, "the fraction of commits that fail"),
}


def target_problem(kind: str, target: str) -> str | None:
    """Why ``target`` is not a valid target of a ``kind`` fault, or None if it is."""
    if kind == "crash":
        allowed = [*SERVICE_NAMES, "broker"]
        allowed += [f"relay:{s}" for s in DOMAIN_SERVICES] + [f"consumer:{s}" for s in DOMAIN_SERVICES]
    elif kind == "partition":
        separator = "->" if "->" in target else "|"
        sides = target.split(separator)
        if len(sides) != 2 or sides[0] == sides[1] or not all(s in PARTIES for s in sides):
            return (
                f"partition target {target!r} must be 'a|b' or 'a->b' with two different parties "
                f"of {list(PARTIES)}"
            )
        return None
    elif kind in MESSAGE_FAULTS:
        allowed = list(CHANNELS)
    elif kind == "commit_failure":
        allowed = list(DOMAIN_SERVICES)
    else:
        allowed = list(SERVICE_NAMES)
    if kind in ("crash", "slow", "clock_skew", "pause") and replica_of(target) is not None:
        _service, index = replica_of(target)  # type: ignore[misc]
        if not 1 <= index <= MAX_REPLICAS:
            return f"{kind} target {target!r} names replica {index}, but replicas are numbered 1..{MAX_REPLICAS}"
        return None
    if target not in allowed:
        replicas = " or a replica such as 'point#2'" if kind in ("crash", "slow", "clock_skew", "pause") else ""
        return f"{kind} target {target!r} is not one of {allowed}{replicas}"
    return None
