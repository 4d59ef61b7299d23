"""Imports run downward (ARCHITECTURE.md, "Layers"), at run time and in type annotations alike.

Every module of ``concertsim/`` is parsed, not imported, so an import counts wherever it is: at
module level, under ``if TYPE_CHECKING:``, inside a function, a ``concertsim.``-qualified name in
an annotation (quoted or not), or ``import_module("concertsim....")``. Two orders are checked:

- the package's layers: each top-level package or module sits in one layer, and imports only from
  its own layer and those below (peers of one layer, like ``ablation`` and ``exploration``, may
  use each other, as ARCHITECTURE.md lists them side by side);
- the layers of ``concertsim.sim``: ``infrastructure`` -> ``hosting`` -> ``messaging`` and
  ``services`` -> ``run``, where ``messaging`` and ``services`` sit side by side and never import
  each other (each subpackage's ``__init__`` states its contract).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "concertsim"

LAYERS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (name, frozenset(members))
    for name, members in (
        # top first
        ("entry points", {"__init__", "__main__", "console"}),
        ("cli", {"cli"}),
        # frames: DataFrames of runs, sweeps and comparisons, presentation beside the reports
        ("reports", {"reports", "frames"}),
        # comparison_plan is the comparison's input, comparison_verdicts its parts; testing and
        # pytest_plugin are the pytest integration, over the api and the search
        ("comparison/migration/ablation/exploration/sweep",
         {"comparison", "comparison_plan", "comparison_verdicts", "migration", "migration_plan_run", "ablation", "exploration", "sweep", "testing",
          "pytest_plugin"}),
        ("search", {"search"}),
        ("api", {"api"}),
        # strategies draws scenarios and fault schedules from what sim wires (SERVICE_MODULES)
        ("checks, metrics", {"checks", "metrics", "strategies"}),
        ("sim", {"sim"}),
        ("scenarios", {"scenarios"}),
        # self-contained helpers that import nothing of concertsim (asserted below)
        ("standalone", {"cluster", "statistics", "held_locks", "parent_death"}),
        ("models", {"models"}),
    )
)
STANDALONE = dict(LAYERS)["standalone"]

SIM_LAYERS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (name, frozenset(members))
    for name, members in (
        ("run", {"run"}),
        ("messaging, services", {"messaging", "services"}),
        ("hosting", {"hosting"}),
        ("infrastructure", {"infrastructure"}),
    )
)
SIM_APART = frozenset({("messaging", "services"), ("services", "messaging")})
"""Subpackages of one sim layer that must not import each other."""

KNOWN_UPWARD: dict[tuple[str, str], str] = {
    # The result objects render themselves in a notebook (``_repr_html_``) and as DataFrames
    # (``trace_frame()``, ``comparison_frame()``, ``grid_frame()``) by importing the presentation
    # layer inside the method, on first use. Moving those methods out of RunOutcome, Comparison,
    # Exploration and GridResult would change the public API.
    ("concertsim.api", "concertsim.frames"): "RunOutcome's frames",
    ("concertsim.api", "concertsim.reports.exports.notebook"): "RunOutcome._repr_html_",
    ("concertsim.comparison", "concertsim.frames"): "Comparison's frame",
    ("concertsim.comparison", "concertsim.reports.exports.notebook"): "Comparison._repr_html_",
    ("concertsim.exploration", "concertsim.reports.exports.notebook"): "Exploration._repr_html_",
    ("concertsim.sweep.aggregate", "concertsim.frames"): "GridResult's frame",
}
"""Upward imports that exist today, each with why; nothing may be added here lightly."""


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    how: str
    """module level, TYPE_CHECKING, in a function, annotation, import_module"""

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} ({self.how}) imports {self.imported}"


def module_sources(package: Path = PACKAGE) -> dict[str, tuple[str, bool]]:
    """Every module of the package: dotted name -> (source, is a package's ``__init__``)."""
    found: dict[str, tuple[str, bool]] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        found[name] = (path.read_text(encoding="utf-8"), is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.known = known
        self.found: list[Import] = []
        self._functions = 0
        self._type_checking = 0

    def _how(self) -> str:
        if self._type_checking:
            return "TYPE_CHECKING"
        return "in a function" if self._functions else "module level"

    def _add(self, imported: str, line: int, how: str | None = None) -> None:
        if imported == "concertsim" or imported.startswith("concertsim."):
            self.found.append(Import(self.module, imported, line, how or self._how()))

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._type_checking += 1
            for child in node.body:
                self.visit(child)
            self._type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
            self._annotations([a.annotation for a in _arguments(node.args)] + [node.returns])
        self._functions += 1
        for child in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(child)
        self._functions -= 1

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function
    visit_Lambda = _visit_function

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotations([node.annotation])
        if node.value is not None:
            self.visit(node.value)

    def _annotations(self, annotations: Iterable[ast.expr | None]) -> None:
        for annotation in annotations:
            if annotation is not None:
                for name in _qualified_names(annotation):
                    self._add(name, annotation.lineno, "annotation")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            self._add(submodule if submodule in self.known else source, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        callee = node.func
        name = callee.id if isinstance(callee, ast.Name) else callee.attr if isinstance(callee, ast.Attribute) else ""
        if name in ("import_module", "__import__") and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self._add(first.value, node.lineno, "import_module")
        self.generic_visit(node)


def _arguments(args: ast.arguments) -> list[ast.arg]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return every


def _qualified_names(annotation: ast.expr) -> Iterator[str]:
    """The ``concertsim.``-qualified dotted names an annotation mentions, in quotes or not."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            inner = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return
        yield from _qualified_names(inner)
        return
    dotted = _dotted(annotation)
    if dotted is not None:
        if dotted.startswith("concertsim."):
            yield dotted
        return
    for child in ast.iter_child_nodes(annotation):
        if isinstance(child, ast.expr):
            yield from _qualified_names(child)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def all_imports(sources: dict[str, tuple[str, bool]]) -> list[Import]:
    known = set(sources)
    found: list[Import] = []
    for module, (source, is_package) in sources.items():
        collector = _Collector(module, is_package, known)
        collector.visit(ast.parse(source))
        found += collector.found
    return found


def _nearest_module(name: str, known: set[str]) -> str:
    """``name``, or the longest module it names an attribute of (``concertsim.sim.x.Host``)."""
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def _rank(layers: tuple[tuple[str, frozenset[str]], ...], unit: str) -> int | None:
    """The layer of ``unit``, counted from the bottom."""
    for index, (_, members) in enumerate(reversed(layers)):
        if unit in members:
            return index
    return None


def _top_unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _sim_unit(module: str) -> str | None:
    """The sim subpackage ``module`` belongs to; None for ``concertsim.sim`` itself, or outside sim."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "sim" else None


def upward_imports(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """Every import that runs up an order (the known exceptions apart), as readable lines."""
    known = set(sources)
    problems: list[str] = []
    for found in all_imports(sources):
        imported = _nearest_module(found.imported, known)
        importer_unit, imported_unit = _top_unit(found.importer), _top_unit(imported)
        if importer_unit != imported_unit:
            high, low = _rank(LAYERS, importer_unit), _rank(LAYERS, imported_unit)
            if high is not None and low is not None and low > high:
                if (found.importer, imported) not in KNOWN_UPWARD:
                    problems.append(f"{found}: {importer_unit} is below {imported_unit}")
            continue
        if importer_unit != "sim":
            continue
        importer_sub, imported_sub = _sim_unit(found.importer), _sim_unit(imported)
        if importer_sub is None or imported_sub is None or importer_sub == imported_sub:
            continue
        high, low = _rank(SIM_LAYERS, importer_sub), _rank(SIM_LAYERS, imported_sub)
        if (importer_sub, imported_sub) in SIM_APART:
            problems.append(f"{found}: sim.{importer_sub} and sim.{imported_sub} never import each other")
        elif high is not None and low is not None and low > high:
            problems.append(f"{found}: sim.{importer_sub} is below sim.{imported_sub}")
    return problems


SOURCES = module_sources()


def test_every_top_level_module_and_package_has_a_layer() -> None:
    units = {_top_unit(module) for module in SOURCES}
    unplaced = sorted(unit for unit in units if _rank(LAYERS, unit) is None)
    assert not unplaced, f"place these in LAYERS by what they import and who imports them: {unplaced}"


def test_every_sim_module_lives_in_a_subpackage_with_a_layer() -> None:
    loose = sorted(m for m in SOURCES if m.startswith("concertsim.sim.") and m.count(".") == 2
                   and not SOURCES[m][1])
    assert not loose, f"modules directly in concertsim/sim/, not in a subpackage: {loose}"
    subpackages = {_sim_unit(m) for m in SOURCES} - {None}
    unplaced = sorted(s for s in subpackages if s is not None and _rank(SIM_LAYERS, s) is None)
    assert not unplaced, f"place these sim subpackages in SIM_LAYERS: {unplaced}"


def test_every_sim_subpackage_states_its_contract() -> None:
    for _, members in SIM_LAYERS:
        for subpackage in members:
            source, _ = SOURCES[f"concertsim.sim.{subpackage}"]
            docstring = ast.get_docstring(ast.parse(source)) or ""
            assert "May import" in docstring, f"concertsim/sim/{subpackage}/__init__.py: say what it may import"


def test_imports_run_down_the_layers() -> None:
    problems = upward_imports(SOURCES)
    assert not problems, "imports that run up a layer order:\n" + "\n".join(problems)


def test_the_known_upward_imports_still_exist() -> None:
    """An exception that no longer happens is taken off the list, so it cannot come back unseen."""
    known = set(SOURCES)
    present = {(i.importer, _nearest_module(i.imported, known)) for i in all_imports(SOURCES)}
    gone = sorted(set(KNOWN_UPWARD) - present)
    assert not gone, f"no longer imported, remove from KNOWN_UPWARD: {gone}"


def test_standalone_modules_import_nothing_of_concertsim() -> None:
    for found in all_imports(SOURCES):
        assert _top_unit(found.importer) not in STANDALONE, f"{found}: a standalone module imports nothing"


PLANTED = [
    ("concertsim.sim.infrastructure.network", "if TYPE_CHECKING:\n    from concertsim.sim.run.system import System\n",
     "sim.infrastructure is below sim.run"),
    ("concertsim.sim.hosting.host", "def f():\n    from concertsim.sim.messaging import consumer\n",
     "sim.hosting is below sim.messaging"),
    ("concertsim.sim.services.point", "def f(x: 'concertsim.sim.messaging.kafka.Broker') -> None: ...\n",
     "never import each other"),
    ("concertsim.sim.messaging.relay", "from ..services import point\n", "never import each other"),
    ("concertsim.models.points", "import concertsim.scenarios.schema\n", "models is below scenarios"),
    ("concertsim.checks.base", "from concertsim.api import run\n", "checks is below api"),
]


@pytest.mark.parametrize(("module", "planted", "reason"), PLANTED)
def test_an_upward_import_planted_anywhere_is_found(module: str, planted: str, reason: str) -> None:
    source, is_package = SOURCES[module]
    sources = {**SOURCES, module: (source + "\n" + planted, is_package)}
    problems = upward_imports(sources)
    assert len(problems) == 1 and module in problems[0] and reason in problems[0], problems
