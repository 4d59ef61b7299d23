"""The rooms of ``concertsim/reports`` import only downward: a report kind may use the kinds listed
below it and the shared blocks, a shared block never a report kind, and no import runs back up.
Every import counts, those inside ``if TYPE_CHECKING:`` and inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import concertsim

REPORTS = Path(concertsim.__file__).parent / "reports"
PACKAGE = "concertsim.reports"

ORDER = (
    "ablation",
    "exploration",
    "run",
    "migration",
    "sweep",
    "comparison",
    "architecture",
    # the shared blocks, below every report kind
    "exports",
    "document",
    "plotting",
    "results",
)
"""The subpackages of ``concertsim.reports``, top first: each may import its own modules and those
of the subpackages after it, never one before it."""


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module ``source`` (the module ``module``) imports, with its line: absolute and
    relative imports anywhere in the file, ``from X import name`` counted as ``X.name`` too (it may
    name a submodule)."""
    found: list[tuple[int, str]] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _room(module: str) -> str | None:
    """The subpackage of ``concertsim.reports`` that ``module`` belongs to, "" for the package
    itself, None outside it."""
    if module == PACKAGE:
        return ""
    if not module.startswith(PACKAGE + "."):
        return None
    return module[len(PACKAGE) + 1:].split(".")[0]


def upward_imports(root: Path) -> list[str]:
    """Each import under ``root`` (a ``concertsim/reports`` tree) that runs up or sideways against
    :data:`ORDER`, or leaves a module outside every subpackage, as "file:line: importer -> imported"."""
    wrong: list[str] = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        room = _room(module)
        where = f"{path.relative_to(root)}"
        if room not in ORDER and module != PACKAGE:
            wrong.append(f"{where}: {module} belongs to no subpackage of {ORDER}")
            continue
        rank = ORDER.index(room) if room in ORDER else -1
        for line, target in imported_modules(path.read_text(), module, path.name == "__init__.py"):
            target_room = _room(target)
            if target_room in (None, "", room):  # outside, the package itself, or the same room
                continue
            if target_room not in ORDER or ORDER.index(target_room) < rank:
                wrong.append(f"{where}:{line}: {module} -> {target}")
    return wrong


def test_every_import_of_the_reports_runs_down_the_order_of_its_rooms() -> None:
    assert upward_imports(REPORTS) == []


def test_every_room_is_a_package_whose_docstring_says_what_it_may_import() -> None:
    rooms = sorted(p.name for p in REPORTS.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert rooms == sorted(ORDER)
    for room in ORDER:
        docstring = ast.get_docstring(ast.parse((REPORTS / room / "__init__.py").read_text()))
        assert docstring and ("import" in docstring), room


def test_a_planted_upward_import_is_found(tmp_path: Path) -> None:
    for room in ("run", "document"):
        (tmp_path / room).mkdir()
        (tmp_path / room / "__init__.py").write_text('"""A room."""\n')
    (tmp_path / "run" / "report.py").write_text("from concertsim.reports.document.blocks import Block\n")
    (tmp_path / "document" / "blocks.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from concertsim.reports.run.report import run_blocks\n"
        "def f() -> None:\n"
        "    from ..run import figures\n"
    )
    assert upward_imports(tmp_path) == [
        "document/blocks.py:3: concertsim.reports.document.blocks -> concertsim.reports.run.report",
        "document/blocks.py:3: concertsim.reports.document.blocks -> concertsim.reports.run.report.run_blocks",
        "document/blocks.py:5: concertsim.reports.document.blocks -> concertsim.reports.run",
        "document/blocks.py:5: concertsim.reports.document.blocks -> concertsim.reports.run.figures",
    ]
