"""The example notebook (docs/notebook.ipynb) runs: each code cell in order, as a kernel would,
and every cell ending in an expression displays as HTML or text."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from concertsim.scenarios.schema import INVARIANT_IDS

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebook.ipynb"


def code_cells() -> list[str]:
    document = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) for cell in document["cells"] if cell["cell_type"] == "code"]


def run_cell(source: str, namespace: dict[str, Any]) -> Any:
    """Execute ``source``; return the value of its last line if that is an expression (what a
    notebook displays), else None."""
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if last is not None:
        tree.body = tree.body[:-1]
    exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 - our own notebook's code
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None  # noqa: S307


def test_every_cell_runs_and_what_it_shows_renders() -> None:
    namespace: dict[str, Any] = {}
    shown = [run_cell(source, namespace) for source in code_cells()]
    assert len(shown) == 7
    for value in shown:
        assert value is not None
        rendered = value._repr_html_() if hasattr(value, "_repr_html_") else repr(value)
        assert rendered and "Traceback" not in rendered
    outcome_html, found_html, comparison_html = (shown[0]._repr_html_(), shown[4]._repr_html_(),
                                                 shown[5]._repr_html_())
    outcome = shown[0]
    counts = f"{len(outcome.held)} invariants hold, {len(outcome.not_applicable)} not applicable ("
    assert len(outcome.held) + len(outcome.not_applicable) == len(INVARIANT_IDS)
    assert counts in outcome_html and "data:image/png;base64," in outcome_html
    assert "counterexample at example" in found_html and "no-orphaned-deduction" in found_html
    assert "A = small-opening" in comparison_html
    assert list(shown[6].columns) == ["A", "B"]
