"""Loading scenarios: YAML files (safely), built-in scenarios, and ``--set`` overrides.

Every way a scenario can be wrong ends in one :class:`ScenarioError` that names the file, the field
path and the reason; the CLI prints it and exits with code 2.

YAML is read by :class:`StrictLoader`: ``yaml.safe_load`` (plain tags only, no Python objects)
except that a key given twice in one mapping is an error naming the key and both lines, where
PyYAML would silently keep the last value (a second ``faults:`` block would drop the first).
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from concertsim.scenarios.migration_plan import STAGE_BEFORE
from concertsim.scenarios.schema import Scenario

__all__ = [
    "ScenarioError",
    "to_yaml",
    "compact",
    "load_scenario",
    "with_migration_plan",
    "scenario_from_data",
    "builtin_names",
    "builtin_path",
    "load_builtin",
    "load_named_or_file",
    "apply_overrides",
    "parse_yaml",
    "StrictLoader",
    "DuplicateKeyError",
    "DEFAULT_SCENARIO",
]

DEFAULT_SCENARIO = "ticket-opening"
_MAX_BYTES = 5_000_000


class ScenarioError(Exception):
    """A scenario could not be loaded. ``problems`` holds (field path, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: invalid scenario"]
        lines += [f"  {field or '(top level)'}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping gives the same key twice. ``key`` is the key, ``first_line`` and ``line`` the
    1-based lines of its first and of its repeated occurrence."""

    def __init__(self, key: Any, first: yaml.Mark, again: yaml.Mark) -> None:
        super().__init__(None, None, f"duplicate key {key!r}", again)
        self.key = key
        self.first_line = first.line + 1
        self.line = again.line + 1
        self.first_column = first.column + 1
        self.column = again.column + 1


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key repeated within one mapping.

    Everything else is ``yaml.safe_load``'s: the same tags, resolvers and merge keys (``<<``: a key
    given explicitly beside a merge overrides the merged one, as YAML specifies; that is not a
    duplicate).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    continue  # the base class reports unhashable keys
                if key in seen:
                    raise DuplicateKeyError(key, seen[key], key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """``text`` parsed like ``yaml.safe_load``, refusing duplicate keys (:class:`StrictLoader`)."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader


def builtin_names() -> list[str]:
    folder = resources.files("concertsim.scenarios") / "builtin"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("concertsim.scenarios") / "builtin" / f"{name}.yaml"))


def builtin_source(name: str) -> str:
    """How errors name a built-in scenario: by its name, not by a path inside the installation."""
    return f"built-in scenario {name!r}"


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, builtin_names(), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def load_builtin(name: str = DEFAULT_SCENARIO, overrides: Iterable[str] = ()) -> Scenario:
    """The built-in scenario ``name`` with ``overrides``. Errors name the scenario (not the file
    inside the installation) and the ``--set`` a problem comes from."""
    if name not in builtin_names():
        raise ScenarioError(
            name, [("", f"no built-in scenario {name!r}{_did_you_mean(name)} (known: {', '.join(builtin_names())})")]
        )
    source = builtin_source(name)
    data = _read_yaml(builtin_path(name), source)
    return scenario_from_data(data, source, overrides)


def load_named_or_file(spec: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """The scenario ``spec`` names: an existing file, else a built-in scenario of that name.

    A name that is neither is refused with the closest built-in names ("did you mean"), and with
    "no such file" when it looks like a path (it has a directory or a ``.yaml``/``.yml`` suffix).
    """
    path = Path(spec)
    text = str(spec)
    try:
        exists = path.exists() or path.is_symlink()
    except OSError as error:  # e.g. a name too long for the file system
        raise ScenarioError(text, [("", f"cannot be read: {error.strerror}")]) from None
    if exists:
        return load_scenario(path, overrides)
    if text in builtin_names():
        return load_builtin(text, overrides)
    looks_like_path = path.suffix.lower() in (".yaml", ".yml") or len(path.parts) > 1 or text.startswith(".")
    hint = _did_you_mean(path.stem if looks_like_path else text)
    if looks_like_path:
        raise ScenarioError(text, [("", f"no such file{hint}")])
    raise ScenarioError(
        text,
        [("", f"no such file or built-in scenario{hint} (built-in: {', '.join(builtin_names())}; "
              "`concertsim scenarios` describes them)")],
    )


def with_migration_plan(base: Scenario, path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """``base`` at the stage its service moves from (the monolith for Point, ``point_split`` for
    Queue, ``queue_split`` for Concert) carrying the migration plan in the file ``path`` (the fields
    of a ``migration:`` block, or a mapping whose one key is ``migration``), with ``overrides``.

    Raises :class:`ScenarioError` naming the file and the field (``migration.steps[1].action``)."""
    source = str(path)
    plan = _read_yaml(Path(path), source)
    if isinstance(plan, Mapping) and list(plan) == ["migration"]:
        plan = plan["migration"]
    if not isinstance(plan, Mapping):
        raise ScenarioError(source, [("", f"a migration plan is a mapping of fields, not {type(plan).__name__}")])
    data = base.model_dump(mode="json")
    service = plan.get("service", "point")
    data["design"]["topology"] = STAGE_BEFORE.get(service, "monolith") if isinstance(service, str) else "monolith"
    data["migration"] = dict(plan)
    return scenario_from_data(data, source, overrides)


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, override and validate the scenario in ``path``.

    Raises :class:`ScenarioError` for a missing, unreadable, non-text, empty or malformed file, a
    YAML tag other than the plain ones, a key given twice, an unknown key, or an invalid value.
    """
    source = str(path)
    data = _read_yaml(Path(path), source)
    return scenario_from_data(data, source, overrides)


def scenario_from_data(data: Any, source: str, overrides: Iterable[str] = ()) -> Scenario:
    if not isinstance(data, Mapping):
        raise ScenarioError(
            source, [("", f"a scenario is a mapping of fields, not {type(data).__name__}")]
        )
    overrides = list(overrides)
    data = _described_as_run(apply_overrides(dict(data), overrides, source), overrides)
    try:
        return Scenario.model_validate(data)
    except RecursionError:
        raise ScenarioError(source, [("", "nested too deeply to be a scenario")]) from None
    except ValidationError as invalid:
        raise ScenarioError(source, _blame_overrides(_problems(invalid), overrides)) from None


def _described_as_run(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A description written for the file says which of its settings ``overrides`` changed: "400
    users for 3 dates" is not what a run with ``--set workload.users=3000`` simulated. One that
    is itself overridden is the user's own words, and stays as given."""
    changed = dict.fromkeys(key for override in overrides if (key := override.partition("=")[0]) != "name")
    description = data.get("description")
    if not changed or "description" in changed or not isinstance(description, str) or not description.strip():
        return data
    text = description.rstrip()
    stop = "." if text.endswith(".") else ""
    return {**data, "description": f"{text.removesuffix(stop)} (as written, before --set {', '.join(changed)}){stop}"}


def _blame_overrides(problems: list[tuple[str, str]], overrides: list[str]) -> list[tuple[str, str]]:
    """Say which ``--set`` a problem comes from, so the user is not sent hunting in the file."""
    blamed = []
    for field, reason in problems:
        culprit = next(
            (o for o in overrides
             if (key := o.partition("=")[0]) == field or key.startswith(field + ".") or field.startswith(key + ".")),
            None,
        )
        blamed.append((field, f"{reason} (from --set {culprit})" if culprit else reason))
    return blamed


def _read_yaml(path: Path, source: str) -> Any:
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise ScenarioError(source, [("", "is not a regular file")])
        with path.open("rb") as stream:
            raw = stream.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(source, [("", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError(source, [("", "is a directory, not a scenario file")]) from None
    except OSError as error:
        raise ScenarioError(source, [("", f"cannot be read: {error.strerror}")]) from None
    if len(raw) > _MAX_BYTES:
        raise ScenarioError(source, [("", f"is larger than {_MAX_BYTES} bytes")])
    if b"\x00" in raw:
        raise ScenarioError(source, [("", "is a binary file, not YAML text")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError(source, [("", f"is not UTF-8 text (byte {error.start})")]) from None
    if not text.strip():
        raise ScenarioError(source, [("", "the file is empty")])
    try:
        return parse_yaml(text)
    except RecursionError:
        raise ScenarioError(source, [("", "nested too deeply to be a scenario")]) from None
    except DuplicateKeyError as error:
        raise ScenarioError(source, [(_mark(error), _duplicate_reason(error))]) from None
    except yaml.constructor.ConstructorError as error:
        raise ScenarioError(source, [(_mark(error), f"YAML tag not allowed: {error.problem}")]) from None
    except yaml.YAMLError as error:
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ScenarioError(source, [(_mark(error), f"YAML syntax error: {reason}")]) from None


def _duplicate_reason(error: DuplicateKeyError) -> str:
    if error.first_line == error.line:
        where = f"first at line {error.first_line} column {error.first_column}, again at column {error.column}"
    else:
        where = f"first at line {error.first_line}, again at line {error.line}"
    return (
        f"duplicate key {error.key!r}: {where} (YAML would keep only the last one and silently drop "
        "the first; merge the two or delete one)"
    )


def _mark(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _problems(invalid: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in invalid.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"] if not _is_union_tag(part))
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            reason = "unknown field (not part of the scenario schema)"
        problems.append((path, reason))
    return problems


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in {"constant", "exponential", "lognormal", "uniform"}


def apply_overrides(data: dict[str, Any], overrides: Iterable[str], source: str) -> dict[str, Any]:
    """Apply ``KEY=VALUE`` overrides; KEY is a dotted path (list items by index), VALUE is parsed
    as a YAML scalar or flow collection (``true``, ``3``, ``[a, b]``)."""
    for override in overrides:
        key, sep, text = override.partition("=")
        if not sep or not key:
            raise ScenarioError(
                source, [(override, f"an override is KEY=VALUE, e.g. design.publish=dual_write (from --set {override})")]
            )
        try:
            value = parse_yaml(text) if text else ""
        except RecursionError:
            raise ScenarioError(source, [(key, f"nested too deeply (from --set {override})")]) from None
        except DuplicateKeyError as error:
            raise ScenarioError(source, [(key, f"duplicate key {error.key!r} (from --set {override})")]) from None
        except yaml.YAMLError as error:
            reason = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ScenarioError(
                source, [(key, f"cannot parse value {text!r}: {reason} (from --set {override})")]
            ) from None
        data = _set_path(data, key.split("."), value, override, source)
    return data


def _set_path(node: Any, parts: list[str], value: Any, override: str, source: str) -> Any:
    key = override.partition("=")[0]
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= len(node):
            raise ScenarioError(
                source, [(key, f"{head!r} is not an index of a list of {len(node)} (from --set {override})")]
            )
        node = list(node)
        node[int(head)] = _set_path(node[int(head)], rest, value, override, source) if rest else value
        return node
    if node is None:
        node = {}
    if not isinstance(node, Mapping):
        raise ScenarioError(
            source, [(key, f"cannot set a field inside a {type(node).__name__} (from --set {override})")]
        )
    node = dict(node)
    node[head] = _set_path(node.get(head), rest, value, override, source) if rest else value
    return node


def compact(scenario: Scenario) -> dict[str, Any]:
    """``scenario`` as plain data without the fields that equal their defaults (but keeping each
    distribution's ``kind``, which says how to read the rest). Loads back to an equal scenario."""
    data = _without_defaults(scenario.model_dump(mode="json"), Scenario().model_dump(mode="json")) or {}
    if scenario.faults:
        data["faults"] = [fault.model_dump(mode="json", exclude_defaults=True) for fault in scenario.faults]
    return data


def _without_defaults(value: Any, default: Any) -> Any:
    if isinstance(value, dict) and isinstance(default, dict):
        kept = {}
        for key, item in value.items():
            if key in default and item == default[key]:
                continue
            kept[key] = _without_defaults(item, default.get(key))
        if "kind" in value and kept:
            kept = {"kind": value["kind"], **kept}
        return kept
    return value


def to_yaml(scenario: Scenario, header: str = "") -> str:
    """A YAML scenario file for ``scenario`` (compact), with an optional comment ``header``."""
    body = yaml.safe_dump(compact(scenario), sort_keys=False, allow_unicode=True, width=100)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + body
