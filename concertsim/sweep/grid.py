"""The grid of a sweep: ``--matrix KEY=V1,V2,...`` options, the cells they span, and the plan that
names a sweep (base scenario, matrix, seeds) by a fingerprint.

A matrix key is a scenario field's dotted path and each value is parsed and checked exactly as a
``--set KEY=VALUE`` override is (:func:`concertsim.scenarios.loader.apply_overrides`, then the
scenario's schema). The grid is the cartesian product of the values, the first key varying
slowest; every cell runs the same seeds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from concertsim.api import resolve_scenario
from concertsim.scenarios.loader import ScenarioError
from concertsim.scenarios.schema import Scenario
from concertsim.sweep.runs import SeedResult

__all__ = [
    "MatrixError", "Axis", "Cell", "SweepPlan", "GridRun", "parse_matrix", "cell_key", "seed_range", "PLAN_FORMAT",
]

PLAN_FORMAT = 1
"""Version of the plan's JSON (``sweep-plan.json``); part of the fingerprint."""

_FROM_SET = re.compile(r" \(from --set [^)]*\)$")


class MatrixError(ValueError):
    """A ``--matrix`` option that cannot be swept; the message names the option, the key and the
    reason in one line."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"--matrix {key}: {reason}" if key else f"--matrix: {reason}")


@dataclass(frozen=True)
class Axis:
    """One swept key and its values: ``texts`` as the user wrote them (for labels), ``values``
    as the validated scenario holds them (for JSON), in the user's order."""

    key: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a value per axis and the scenario that results."""

    index: int
    values: dict[str, Any]
    texts: dict[str, str]
    scenario: Scenario

    @property
    def key(self) -> str:
        return cell_key(self.values)

    @property
    def label(self) -> str:
        """``design.publish=outbox, workload.users=100``; empty for the one cell of a sweep
        without a matrix."""
        return ", ".join(f"{key}={text}" for key, text in self.texts.items())


def cell_key(values: dict[str, Any]) -> str:
    """A cell's identity: its values as canonical JSON."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class GridRun:
    """One finished run of a grid sweep: its cell's values and its result. One line of
    ``sweep.jsonl``."""

    cell: dict[str, Any]
    result: SeedResult

    @property
    def cell_key(self) -> str:
        return cell_key(self.cell)

    def to_json(self) -> dict[str, Any]:
        return {"cell": self.cell, **self.result.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GridRun:
        """The run :meth:`to_json` gave; ``KeyError``, ``TypeError`` or ``ValueError`` for data of
        another shape."""
        cell = data["cell"]
        if not isinstance(cell, dict):
            raise TypeError("cell is not a mapping")
        return cls(cell, SeedResult.from_json(data))


# --- parsing --matrix ----------------------------------------------------------------------------------


def _split_values(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, braces and quotes, so that a value may be a
    YAML flow collection (``faults=[],[{at: 1, kind: crash, target: point}]``)."""
    parts, current, depth, quote = [], [], 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts]


def _overlaps(key: str, other: str) -> bool:
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


def parse_matrix(options: Iterable[str], set_overrides: Iterable[str] = ()) -> list[tuple[str, list[str]]]:
    """The (key, value texts) of each ``KEY=V1,V2,...`` option, in order.

    Raises :class:`MatrixError` for an option without ``=`` or key, an empty value list or an
    empty value, a value given twice, a key given twice (or inside another swept key), ``seed``
    (seeds are swept with ``--seeds``), or a key that a ``--set`` override also sets.
    """
    parsed: list[tuple[str, list[str]]] = []
    set_keys = [override.partition("=")[0] for override in set_overrides]
    for option in options:
        key, sep, text = option.partition("=")
        key = key.strip()
        if not sep or not key:
            raise MatrixError(key or option, f"{option!r} is not KEY=V1,V2,... (e.g. design.publish=outbox,dual_write)")
        if key == "seed":
            raise MatrixError(key, "seeds are not a matrix key: every cell runs the --seeds seeds")
        texts = _split_values(text)
        if texts == [""]:
            raise MatrixError(key, "no values (expected KEY=V1,V2,...)")
        for position, value in enumerate(texts, start=1):
            if not value:
                raise MatrixError(key, f"value {position} of {len(texts)} is empty ({text!r})")
        for earlier, _ in parsed:
            if earlier == key:
                raise MatrixError(key, f"given twice; put every value in one --matrix {key}=V1,V2,...")
            if _overlaps(key, earlier):
                raise MatrixError(key, f"overlaps the swept key {earlier}; sweep one or the other")
        for set_key in set_keys:
            if _overlaps(key, set_key):
                raise MatrixError(key, f"also given with --set {set_key}=...; a swept key takes its values from --matrix only")
        parsed.append((key, texts))
    return parsed


def _value_at(data: Any, key: str) -> Any:
    node = data
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(key)
    return node


def _problem_text(error: ScenarioError, key: str) -> str:
    parts = []
    for field, reason in error.problems:
        reason = _FROM_SET.sub("", reason)
        parts.append(reason if field in ("", key) else f"{field}: {reason}")
    return "; ".join(parts)


def _with(base: Scenario, overrides: list[str]) -> Scenario:
    return resolve_scenario(base, overrides)


def _axis(base: Scenario, key: str, texts: list[str]) -> Axis:
    """The axis of ``key`` with each value checked on its own against ``base``."""
    values: list[Any] = []
    seen: dict[str, str] = {}
    for text in texts:
        try:
            scenario = _with(base, [f"{key}={text}"])
        except ScenarioError as error:
            raise MatrixError(key, f"value {text!r}: {_problem_text(error, key)}") from None
        data = scenario.model_dump(mode="json")
        try:
            value = _value_at(data, key)
        except KeyError:
            value = text
        canonical = json.dumps(value, sort_keys=True)
        if canonical in seen:
            same = "given twice" if seen[canonical] == text else f"the same value as {seen[canonical]!r}"
            raise MatrixError(key, f"value {text!r} is {same}")
        seen[canonical] = text
        values.append(value)
    return Axis(key, tuple(texts), tuple(values))


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep runs: ``base`` (the scenario with its ``--set`` overrides) in every cell of the
    ``axes``' grid, each with every seed of ``seeds``. :meth:`build` checks a matrix and makes
    the cells; :attr:`fingerprint` names the sweep, so an interrupted one is resumed only by the
    same sweep."""

    base: Scenario
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]
    cells: tuple[Cell, ...]

    @classmethod
    def build(cls, base: Scenario, matrix: Sequence[tuple[str, Sequence[str]]], seeds: Iterable[int]) -> SweepPlan:
        """The plan of ``base`` over ``matrix`` (from :func:`parse_matrix`) and ``seeds``.

        Raises :class:`MatrixError` naming the key and the reason for a value that does not fit
        the scenario (an unknown field, a value of the wrong type or out of range), and naming the
        cell for a combination of values the scenario refuses.
        """
        axes = tuple(_axis(base, key, list(texts)) for key, texts in matrix)
        cells = []
        for index, combination in enumerate(itertools.product(*(range(len(a.texts)) for a in axes))):
            texts = {axis.key: axis.texts[i] for axis, i in zip(axes, combination, strict=True)}
            values = {axis.key: axis.values[i] for axis, i in zip(axes, combination, strict=True)}
            overrides = [f"{key}={text}" for key, text in texts.items()]
            try:
                scenario = _with(base, overrides) if overrides else base
            except ScenarioError as error:
                label = ", ".join(overrides)
                raise MatrixError("", f"the cell {label} is not a valid scenario: {_problem_text(error, '')}") from None
            cells.append(Cell(index, values, texts, scenario))
        return cls(base, axes, tuple(seeds), tuple(cells))

    @property
    def total_runs(self) -> int:
        return len(self.cells) * len(self.seeds)

    @property
    def swept(self) -> bool:
        """Whether the plan has a matrix (else it is the one cell of the scenario as given)."""
        return bool(self.axes)

    def cell(self, key: str) -> Cell | None:
        return next((cell for cell in self.cells if cell.key == key), None)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of what decides the runs: the base scenario, each swept key with its set of
        values, and the seeds. The order of the ``--matrix`` options and of their values does not
        change it (the same runs, shown in another order)."""
        identity = {
            "format": PLAN_FORMAT,
            "base": self.base.model_dump(mode="json"),
            "matrix": {axis.key: sorted(json.dumps(v, sort_keys=True) for v in axis.values)
                       for axis in sorted(self.axes, key=lambda a: a.key)},
            "seeds": sorted(self.seeds),
        }
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def describe(self) -> str:
        """One line for messages: ``'ticket-opening' with --matrix design.publish=outbox,dual_write
        over seeds 1-5 (10 runs)``."""
        matrix = " ".join(f"--matrix {axis.key}={','.join(axis.texts)}" for axis in self.axes) or "no --matrix"
        return f"{self.base.name!r} with {matrix} over {seed_range(self.seeds)} ({self.total_runs} runs)"

    def to_json(self) -> dict[str, Any]:
        """The plan as ``sweep-plan.json`` holds it."""
        return {
            "format": PLAN_FORMAT,
            "fingerprint": self.fingerprint,
            "describe": self.describe(),
            "scenario": self.base.name,
            "matrix": {axis.key: list(axis.values) for axis in self.axes},
            "seeds": list(self.seeds),
            "runs": self.total_runs,
            "base_scenario": self.base.model_dump(mode="json"),
        }


def seed_range(seeds: Sequence[int]) -> str:
    """``seeds 1-5`` for consecutive seeds, else the list."""
    ordered = sorted(seeds)
    if not ordered:
        return "no seeds"
    if len(ordered) == 1:
        return f"seed {ordered[0]}"
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"seeds {ordered[0]}-{ordered[-1]}"
    return "seeds " + ", ".join(map(str, ordered))
