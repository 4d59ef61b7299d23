"""The plan of a comparison of two designs: the two scenarios as they will run, the seeds they
share and the fault schedule they share.

:func:`plan_comparison` resolves the two sides (scenario files or built-in names, with overrides
for both and for each), gives each a readable label, and fixes what they share: the seeds (A's
seed and the ones after it) and the fault schedule (:data:`FAULT_POLICIES`). Nothing runs here,
so a bad scenario, a bad override or an override that could have no effect is refused before a
second of simulation. :mod:`concertsim.comparison` runs the plan and judges it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from concertsim.api import resolve_scenario
from concertsim.scenarios.loader import ScenarioError, scenario_from_data
from concertsim.scenarios.schema import Scenario

__all__ = [
    "FaultPolicy",
    "FAULT_POLICIES",
    "ComparisonError",
    "Side",
    "FieldDifference",
    "ComparisonPlan",
    "plan_comparison",
]

FaultPolicy = Literal["a", "b", "own"]
FAULT_POLICIES: dict[str, str] = {
    "a": "both sides run A's fault schedule",
    "b": "both sides run B's fault schedule",
    "own": "each side runs its own fault schedule",
}
"""How the two sides' fault schedules are reconciled. A comparison should vary the design alone,
so by default B runs A's faults; ``own`` keeps each side's, and the report says the comparison
then mixes a difference of design with a difference of faults."""


class ComparisonError(ValueError):
    """The two sides cannot be compared as asked; the message names the option and the reason."""


# --- the plan: two scenarios, one set of seeds, one fault schedule ---------------------------------------


@dataclass(frozen=True)
class Side:
    """One side of a comparison: the scenario as it runs, as the user named it (``spec``), with
    the overrides given for this side alone (``overrides``) and for both (``shared``)."""

    key: Literal["a", "b"]
    label: str
    spec: str
    overrides: tuple[str, ...]
    shared: tuple[str, ...]
    scenario: Scenario
    faults_replaced: bool = False
    """Whether the fault schedule was taken from the other side (:data:`FAULT_POLICIES`)."""

    def run_command(self, seed: int) -> str | None:
        """The ``concertsim run`` command that reproduces this side's run of ``seed`` (None when
        its fault schedule came from the other side: the command would have to spell it out)."""
        if self.faults_replaced:
            return None
        sets = "".join(f" --set {_shell_word(o)}" for o in (*self.shared, *self.overrides))
        return f"concertsim run {_shell_word(self.spec)} --seed {seed}{sets}"


def _shell_word(text: str) -> str:
    plain = all(c.isalnum() or c in "-_./=:,+@" for c in text)
    return text if plain and text else "'" + text.replace("'", "'\\''") + "'"


@dataclass(frozen=True)
class FieldDifference:
    """A scenario field (dotted path) whose value differs between the two sides."""

    field: str
    a: Any
    b: Any


@dataclass(frozen=True)
class ComparisonPlan:
    a: Side
    b: Side
    seeds: tuple[int, ...]
    fault_policy: FaultPolicy
    differences: tuple[FieldDifference, ...]
    """Every field that differs between the scenarios as they run, but for names, descriptions,
    seeds (both run :attr:`seeds`) and fault schedules (:attr:`fault_note`)."""
    fault_note: str
    """What the fault policy did, in a sentence."""
    seed_note: str
    """Which seeds both sides run, in a sentence."""

    @property
    def identical(self) -> bool:
        return not self.differences and self.a.scenario.faults == self.b.scenario.faults


_NOT_COMPARED = ("name", "description", "seed", "faults", "expect")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def _differences(a: Scenario, b: Scenario) -> tuple[FieldDifference, ...]:
    dump_a, dump_b = a.model_dump(mode="json"), b.model_dump(mode="json")
    for key in _NOT_COMPARED:
        dump_a.pop(key, None)
        dump_b.pop(key, None)
    flat_a, flat_b = _flatten(dump_a), _flatten(dump_b)
    return tuple(FieldDifference(f, flat_a.get(f), flat_b.get(f))
                 for f in dict.fromkeys([*flat_a, *flat_b]) if flat_a.get(f) != flat_b.get(f))


def _describe_faults(scenario: Scenario) -> str:
    count = len(scenario.faults)
    if not count:
        return "no faults"
    shown = [f"{f.kind} {f.target}" + (f" ({f.match.message_type})" if f.match and f.match.message_type else "")
             + f" at {f.at:g} s" + (f" for {f.duration:g} s" if f.duration else "")
             for f in scenario.faults[:3]]
    more = ", ..." if count > 3 else ""
    return f"{count} fault{'s' if count != 1 else ''}: {', '.join(shown)}{more}"


def _touches(overrides: Sequence[str], field: str) -> list[str]:
    return [o for o in overrides if (key := o.partition("=")[0]) == field or key.startswith(field + ".")]


def _resolve(key: str, spec: Scenario | str | Path, shared: Sequence[str], own: Sequence[str]) -> Scenario:
    """The scenario of one side; a problem names the side and the option an override came from."""
    try:
        return resolve_scenario(spec, (*shared, *own))
    except ScenarioError as error:
        problems = [(field, _blame_side(reason, key, own)) for field, reason in error.problems]
        side = f"{key.upper()}: {error.source}"
        if len(problems) == 1:
            field, reason = problems[0]
            raise ComparisonError(f"{side}: {field + ': ' if field else ''}{reason}") from None
        lines = [f"{side}: invalid scenario", *(f"  {field or '(top level)'}: {reason}" for field, reason in problems)]
        raise ComparisonError("\n".join(lines)) from None


def _blame_side(reason: str, key: str, own: Sequence[str]) -> str:
    """``reason`` naming ``--set-a``/``--set-b`` where the loader said ``--set`` of a side's own
    override."""
    for override in own:
        reason = reason.replace(f"(from --set {override})", f"(from --set-{key} {override})")
    return reason


def _with_faults(scenario: Scenario, donor: Scenario, key: str) -> Scenario:
    data = {**scenario.model_dump(mode="json"), "faults": [f.model_dump(mode="json") for f in donor.faults]}
    try:
        return scenario_from_data(data, scenario.name)
    except ScenarioError as error:
        other = "B" if key == "a" else "A"
        raise ComparisonError(f"{key.upper()} cannot run {other}'s fault schedule (--faults): {error}") from None


def _labels(a: Scenario, b: Scenario, only_a: Sequence[str], only_b: Sequence[str],
            differences: Sequence[FieldDifference]) -> tuple[str, str]:
    """The scenario's name plus the overrides that make its side differ; where that leaves the
    two alike, B's differing fields, and failing those (identical sides) a plain A and B."""

    def named(scenario: Scenario, own: Sequence[str], other: Sequence[str]) -> str:
        differing = [o for o in own if o not in other]
        return f"{scenario.name} ({', '.join(differing)})" if differing else scenario.name

    label_a, label_b = named(a, only_a, only_b), named(b, only_b, only_a)
    if label_a == label_b and differences:
        shown = ", ".join(f"{d.field}={_value_text(d.b)}" for d in differences[:3])
        label_b = f"{b.name} ({shown}{', ...' if len(differences) > 3 else ''})"
    if label_a == label_b:
        label_a, label_b = f"{label_a} [A]", f"{label_b} [B]"
    return label_a, label_b


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def plan_comparison(
    a: Scenario | str | Path,
    b: Scenario | str | Path | None = None,
    *,
    seeds: int = 10,
    shared: Sequence[str] = (),
    only_a: Sequence[str] = (),
    only_b: Sequence[str] = (),
    faults: FaultPolicy = "a",
) -> ComparisonPlan:
    """Resolve both sides and fix what they share. ``b`` None means B is A (with ``only_b``).

    Both sides run seeds ``A.seed … A.seed + seeds - 1``. Raises :class:`ComparisonError` for a
    side that does not load (naming the side and the ``--set``/``--set-a``/``--set-b`` at fault),
    for B omitted with no ``only_b``, for a fault policy that is not one of
    :data:`FAULT_POLICIES`, and for an override that could have no effect: one side's ``seed``
    (both run A's seeds, or B's with ``--set-b seed``), or one side's ``faults`` where the
    policy gives both sides the other's.
    """
    if seeds < 1:
        raise ComparisonError(f"--seeds: at least one seed is needed, not {seeds}")
    if faults not in FAULT_POLICIES:
        raise ComparisonError(f"--faults takes {', '.join(FAULT_POLICIES)}, not {faults!r}")
    if b is None and not only_b:
        raise ComparisonError("B: give a second scenario, or --set-b KEY=VALUE to compare A with a variant of itself")
    if seeded := _touches(only_b, "seed"):
        raise ComparisonError(f"--set-b {seeded[0]}: has no effect, both sides run A's seeds; "
                              "set the first seed with --set or --set-a")
    discarded = {"a": ("b", only_b), "b": ("a", only_a)}.get(faults)
    if discarded is not None and (touched := _touches(discarded[1], "faults")):
        raise ComparisonError(
            f"--set-{discarded[0]} {touched[0]}: has no effect with --faults {faults} "
            f"({FAULT_POLICIES[faults]}); use --set to give both sides that schedule, or --faults own"
        )
    spec_a = a if isinstance(a, Scenario) else str(a)
    spec_b = spec_a if b is None else b if isinstance(b, Scenario) else str(b)
    scenario_a = _resolve("a", spec_a, shared, only_a)
    scenario_b = _resolve("b", spec_b, shared, only_b)
    own_a, own_b = scenario_a, scenario_b
    if own_a.faults != own_b.faults and faults == "a":
        scenario_b = _with_faults(scenario_b, scenario_a, "b")
    elif own_a.faults != own_b.faults and faults == "b":
        scenario_a = _with_faults(scenario_a, scenario_b, "a")
    fault_note = _fault_note(own_a, own_b, faults)
    first, last = scenario_a.seed, scenario_a.seed + seeds - 1
    seed_note = f"Both sides run seed {first}" if seeds == 1 else f"Both sides run seeds {first} to {last}"
    seed_note += " (A's seed and the ones after it)." if seeds > 1 else " (A's seed)."
    if scenario_b.seed != scenario_a.seed:
        seed_note += f" B's own seed ({scenario_b.seed}) is not used."
    differences = _differences(scenario_a, scenario_b)
    label_a, label_b = _labels(scenario_a, scenario_b, only_a, only_b, differences)

    def spec_text(spec: Scenario | str) -> str:
        return spec.name if isinstance(spec, Scenario) else spec

    replaced = own_a.faults != own_b.faults
    return ComparisonPlan(
        a=Side("a", label_a, spec_text(spec_a), tuple(only_a), tuple(shared), scenario_a,
               faults_replaced=replaced and faults == "b"),
        b=Side("b", label_b, spec_text(spec_b), tuple(only_b), tuple(shared), scenario_b,
               faults_replaced=replaced and faults == "a"),
        seeds=tuple(range(scenario_a.seed, scenario_a.seed + seeds)),
        fault_policy=faults,
        differences=differences,
        fault_note=fault_note,
        seed_note=seed_note,
    )


def _fault_note(a: Scenario, b: Scenario, policy: FaultPolicy) -> str:
    if a.faults == b.faults:
        return f"Both sides have the same fault schedule ({_describe_faults(a)})."
    if policy == "a":
        return (f"The scenarios' fault schedules differ: B's own ({_describe_faults(b)}) was replaced by "
                f"A's ({_describe_faults(a)}), so that only the design differs (--faults own keeps each "
                "side's own).")
    if policy == "b":
        return (f"The scenarios' fault schedules differ: A's own ({_describe_faults(a)}) was replaced by "
                f"B's ({_describe_faults(b)}), so that only the design differs.")
    return (f"Each side runs its own fault schedule (A: {_describe_faults(a)}; B: {_describe_faults(b)}): "
            "a difference below may come from the faults as much as from the design.")

