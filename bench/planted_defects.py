"""Planted defects: does the verifier catch the bugs a team actually ships?

The runner for the catalogue of realistic one-line defects in the runtime (``concertsim/sim/``)
and the domain (``concertsim/models/``), which lives in ``bench/defects/`` (one module per
mechanism). Each defect is planted in a temporary copy of the package (never in the checkout),
and the runner asks the project's two bug finders whether they notice:

- the CI property suite, ``tests/properties/test_design_converges.py``, run against the planted
  copy: caught when it fails (exit code 1);
- ``concertsim explore`` of the defect's scenario (``Defect.scenario``, ``small-opening`` unless
  the mechanism has its own built-in) on each payment flow the defect affects: caught when it
  finds a counterexample (exit code 1), after ``examples_to_failure`` generated examples.

Before either, each defect's *witness* (``Defect.witness``: overrides of its scenario) is run in a
clean copy and in the planted copy: a defect whose witness differs in neither the trace nor the
verdicts has not been shown to change behaviour, and its row says NO CHANGE.

    python bench/planted_defects.py [--only ID ...] [--examples N] [--seed S] [--json FILE]
                                    [--revision REV] [--no-baseline] [--witness-only]

``--witness-only`` runs each defect's witness and nothing else (two runs a defect, a few seconds
each; minutes for the whole catalogue), to show that each defect is harmful where it is meant to
be.

By default the working tree's package is copied and the working tree's tests are run against it;
with ``--revision HEAD`` (or any git revision) the package, tests and ``pyproject.toml`` of that
commit are exported instead, so a measurement does not depend on uncommitted work in progress. A
first row measures the clean copy: the verifier must be green there for a catch to mean anything.

The planted copy (``bench/planting.py``) is put first on ``PYTHONPATH`` of each subprocess, with ``PYTHONSAFEPATH=1``:
without it, ``python -m`` and ``python -c`` put the working directory first on ``sys.path`` and
import the checkout's package instead of the planted one. Each subprocess also checks that the
``concertsim`` it imported is the planted copy's and refuses to run otherwise. Runs are sequential:
one simulation process at a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # run as a script or loaded by path
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from defects import DEFECTS, FLOWS, MECHANISMS, WITNESSES, Defect  # noqa: E402
from planting import (  # noqa: E402
    GUARD_MODULE, IMPORT_GUARD, PACKAGE, PLANTABLE_ROOTS, REPO, planted, planted_copy, pristine_copy, subprocess_env,
    tests_root,
)

__all__ = [
    "Defect",
    "DEFECTS",
    "WITNESSES",
    "MECHANISMS",
    "FLOWS",
    "PLANTABLE_ROOTS",
    "REPO",
    "DefectResult",
    "WitnessResult",
    "SuiteResult",
    "ExploreResult",
    "table",
    "planted",
    "planted_copy",
    "pristine_copy",
    "subprocess_env",
    "run_witness",
    "run_property_suite",
    "run_explore",
    "evaluate",
    "main",
]

PROPERTY_SUITE = "tests/properties/test_design_converges.py"
WITNESS_BASE = "small-opening"

_CLI = IMPORT_GUARD + "from concertsim.cli import main\nmain()\n"
_WITNESS = IMPORT_GUARD + (
    "import json\n"
    "from collections import Counter\n"
    "outcome = concertsim.run(sys.argv[1], overrides=json.loads(sys.argv[2]))\n"
    "booked = outcome.result.table('reservation', 'reservations').values()\n"
    "paid = Counter(op.outcome for op in outcome.result.history if op.action == 'pay')\n"
    "lags = [r.ended_at - r.hold_expires_at for r in booked if str(r.status) == 'EXPIRED']\n"
    "print(json.dumps({\n"
    "    'module': concertsim.__file__, 'trace_sha256': outcome.result.trace_sha256,\n"
    "    'violated': outcome.violated,\n"
    "    'observed': {\n"
    "        'sold': sum(str(r.status) == 'CONFIRMED' for r in booked),\n"
    "        'payments ok': paid['ok'], 'payments failed': paid['fail'],\n"
    "        'payments unknown': paid['unknown'],\n"
    "        'hold release lag (s)': round(max(lags, default=0.0), 1),\n"
    "        'dead letters': len(outcome.result.dead_letters),\n"
    "    },\n"
    "}))\n"
)
"""Runs a witness; prints the verdicts and what a buyer or an operator would see: seats sold, how
payments were answered, the longest delay between a hold's expiry and its release, dead letters."""


# --- the three measurements ----------------------------------------------------------------------


def run_witness(root: Path, overrides: Sequence[str], base: str = WITNESS_BASE) -> dict[str, Any]:
    """Run ``base`` with ``overrides`` using the package in ``root``; returns the module file it
    imported (``module``), the trace SHA-256, the violated invariants and what a buyer or an
    operator would see (``observed``). Raises RuntimeError if the run fails."""
    completed = subprocess.run(
        [sys.executable, "-c", _WITNESS, base, json.dumps(list(overrides))],
        cwd=root, env=subprocess_env(root), capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"witness run failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


@dataclass
class SuiteResult:
    """The property suite against one copy: ``caught`` means it failed (exit code 1)."""

    exit_code: int
    caught: bool
    seconds: float
    first_failure: str | None


def run_property_suite(root: Path) -> SuiteResult:
    """Run the CI property suite from the repository root against the package in ``root``."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", GUARD_MODULE,
         PROPERTY_SUITE],
        cwd=tests_root(root), env=subprocess_env(root), capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise RuntimeError(
            f"property suite could not run ({completed.returncode}): "
            f"{(completed.stdout + completed.stderr).strip()[-2000:]}"
        )
    output = completed.stdout + completed.stderr
    violated = next(
        (line.split("violated: ", 1)[1].strip() for line in output.splitlines() if "violated: [" in line), None
    )
    caught = completed.returncode == 1 and "failed" in output.lower()
    return SuiteResult(completed.returncode, caught, round(seconds, 1), violated)


@dataclass
class ExploreResult:
    """``concertsim explore`` on one flow: ``caught`` means it found a counterexample."""

    flow: str
    exit_code: int
    caught: bool
    examples_to_failure: int | None
    examples_generated: int | None
    violated: list[str]
    seconds: float


def run_explore(
    root: Path, flow: str, examples: int, seed: int, scenario: str = WITNESS_BASE, settings: Sequence[str] = ()
) -> ExploreResult:
    """Run ``concertsim explore SCENARIO --set SETTING ... --set design.payment_flow=FLOW
    -n EXAMPLES --seed SEED --json`` with the package in ``root``."""
    sets = [part for setting in settings for part in ("--set", setting)]
    with tempfile.TemporaryDirectory(prefix="concertsim-explore-") as out:
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-c", _CLI, "explore", scenario, *sets, "--set", f"design.payment_flow={flow}",
             "-n", str(examples), "--seed", str(seed), "--json", "--out", str(Path(out) / "result")],
            cwd=root, env=subprocess_env(root), capture_output=True, text=True, check=False,
        )
        seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise RuntimeError(
            f"explore could not run ({completed.returncode}): {completed.stderr.strip()[-2000:]}"
        )
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    return ExploreResult(
        flow, completed.returncode, completed.returncode == 1, summary.get("examples_to_failure"),
        summary.get("examples_generated"), list(summary.get("violated") or []), round(seconds, 1),
    )


@dataclass
class WitnessResult:
    """A defect's witness scenario in a clean copy and in the planted copy. ``changes`` is True
    when the trace or the verdicts differ."""

    trace_differs: bool
    clean_violated: list[str]
    violated: list[str]
    clean_observed: dict[str, float]
    observed: dict[str, float]

    @property
    def changes(self) -> bool:
        return self.trace_differs or self.violated != self.clean_violated


@dataclass
class DefectResult:
    """Everything measured for one defect (or, with ``defect`` None, for the clean copy)."""

    id: str
    path: str
    flows: tuple[str, ...]
    scenario: str = WITNESS_BASE
    witness: WitnessResult | None = None
    suite: SuiteResult | None = None
    explore: list[ExploreResult] = field(default_factory=list)

    @property
    def caught_by_suite(self) -> bool:
        return self.suite is not None and self.suite.caught

    @property
    def caught_by_explore(self) -> bool:
        return any(e.caught for e in self.explore)

    @property
    def escapes(self) -> bool:
        return not (self.caught_by_suite or self.caught_by_explore)


def evaluate(
    defect: Defect | None,
    examples: int,
    seed: int,
    baselines: dict[tuple[str, tuple[str, ...]], dict[str, Any]],
    revision: str | None = None,
    witness_only: bool = False,
) -> DefectResult:
    """Measure one defect (None: the clean copy, the sync and choreography flows of
    ``small-opening``) in a copy of the working tree or of git ``revision``: its witness against
    the clean baseline (computed once per scenario and witness in ``baselines``), the property
    suite, and explore of its scenario on each flow it affects (with ``witness_only``, the witness
    alone)."""
    if defect is None:
        result = DefectResult("(none)", "-", ("sync", "choreography"))
        context = pristine_copy(revision)
    else:
        result = DefectResult(defect.id, defect.path, defect.flows, defect.scenario)
        context = planted_copy(defect, revision)
    with context as root:
        if defect is not None:
            overrides = WITNESSES[defect.id]
            key = (defect.scenario, overrides)
            if key not in baselines:
                with pristine_copy(revision) as clean:
                    baselines[key] = run_witness(clean, overrides, defect.scenario)
            clean, seen = baselines[key], run_witness(root, overrides, defect.scenario)
            result.witness = WitnessResult(
                seen["trace_sha256"] != clean["trace_sha256"], clean["violated"], seen["violated"],
                clean["observed"], seen["observed"],
            )
        if witness_only:
            return result
        result.suite = run_property_suite(root)
        result.explore = [
            run_explore(root, flow, examples, seed, result.scenario, defect.settings if defect else ())
            for flow in result.flows
        ]
    return result


# --- the report ----------------------------------------------------------------------------------


def _suite_cell(result: DefectResult) -> str:
    if result.suite is None:
        return "–"
    return f"{'y' if result.suite.caught else 'n'} ({result.suite.seconds:.0f} s)"


def _explore_cell(result: DefectResult, flow: str) -> str:
    found = next((e for e in result.explore if e.flow == flow), None)
    if found is None:
        return "–"
    return f"y ({found.examples_to_failure})" if found.caught else "n"


def _witness_cell(result: DefectResult) -> str:
    witness = result.witness
    if witness is None:
        return "–"
    if not witness.changes:
        return "NO CHANGE"
    if witness.violated != witness.clean_violated:
        return ", ".join(witness.violated) or "holds"
    changed = [
        f"{name} {witness.clean_observed[name]:g} → {value:g}"
        for name, value in witness.observed.items() if value != witness.clean_observed.get(name)
    ]
    return "holds; " + (", ".join(changed) if changed else "the trace differs")


def table(results: Sequence[DefectResult]) -> str:
    """The results as a Markdown table, then the catch rates."""
    lines = [
        "| defect | file | scenario | flows | witness run | property suite | explore sync | "
        "explore choreography | explore orchestration |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        path = r.path.removeprefix("concertsim/")
        explored = " | ".join(_explore_cell(r, flow) for flow in FLOWS)
        lines.append(
            f"| `{r.id}` | {path} | {r.scenario} | {', '.join(r.flows)} | {_witness_cell(r)} | "
            f"{_suite_cell(r)} | {explored} |"
        )
    planted_results = [r for r in results if r.id != "(none)"]
    n = len(planted_results)
    witnessed = [r for r in planted_results if r.witness is not None]
    if witnessed:
        harmful = [r.id for r in witnessed if set(r.witness.violated) - set(r.witness.clean_violated)]
        lines.append("")
        lines.append(
            f"witness breaks an invariant the clean copy keeps: {len(harmful)}/{len(witnessed)}; "
            f"not shown harmful: {', '.join(r.id for r in witnessed if r.id not in harmful) or 'none'}"
        )
    if n and all(r.suite is not None for r in planted_results):
        by_suite = sum(r.caught_by_suite for r in planted_results)
        by_explore = sum(r.caught_by_explore for r in planted_results)
        either = sum(not r.escapes for r in planted_results)
        lines.append("")
        lines.append(
            f"caught: property suite {by_suite}/{n}, explore {by_explore}/{n}, "
            f"either {either}/{n} ({100 * either / n:.0f}%)"
        )
        escapes = [r.id for r in planted_results if r.escapes]
        lines.append(f"escapes: {', '.join(escapes) if escapes else 'none'}")
    return "\n".join(lines)


def _git_head() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _working_tree_changes() -> list[str]:
    """``git status --porcelain`` of the package and tests: what a working-tree run measured
    besides the commit."""
    try:
        return subprocess.run(
            ["git", "status", "--porcelain", "--", PACKAGE, "tests"], cwd=REPO, capture_output=True,
            text=True, check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return []


def main(argv: Sequence[str] | None = None) -> int:
    """The script: measure the chosen defects (all by default, after the clean copy), print the
    table, optionally write the results as JSON. Exit code 0, or 2 for bad input (an unknown
    defect id, a revision that is not a commit)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="measure only these defects")
    parser.add_argument("--examples", type=int, default=200, help="explore's -n (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="explore's --seed (default 0)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results here")
    parser.add_argument("--no-baseline", action="store_true", help="skip the clean copy's row")
    parser.add_argument(
        "--witness-only", action="store_true",
        help="run each defect's witness only (no property suite, no explore; no clean-copy row)",
    )
    parser.add_argument(
        "--revision", metavar="REV",
        help="measure git revision REV's package and tests (e.g. HEAD) instead of the working tree's",
    )
    args = parser.parse_args(argv)

    by_id = {d.id: d for d in DEFECTS}
    unknown = [i for i in args.only or () if i not in by_id]
    if unknown:
        parser.error(f"unknown defect id(s) {unknown}; known: {sorted(by_id)}")
    commit = None
    if args.revision is not None:
        resolved = subprocess.run(
            ["git", "rev-parse", "--verify", f"{args.revision}^{{commit}}"], cwd=REPO,
            capture_output=True, text=True, check=False,
        )
        if resolved.returncode != 0:
            parser.error(f"--revision {args.revision}: not a commit of {REPO}")
        commit = resolved.stdout.strip()  # resolved once: HEAD may move while the rows run
    chosen: list[Defect | None] = [by_id[i] for i in args.only] if args.only else list(DEFECTS)
    if not (args.no_baseline or args.witness_only):
        chosen.insert(0, None)

    started = time.perf_counter()
    baselines: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    results = []
    for defect in chosen:
        name = defect.id if defect else "(none)"
        print(f"... {name}", file=sys.stderr, end="", flush=True)
        result = evaluate(defect, args.examples, args.seed, baselines, commit, args.witness_only)
        results.append(result)
        explored = ", ".join(
            f"{e.flow} {e.examples_to_failure if e.caught else '-'}" for e in result.explore
        )
        progress = (
            f"witness {_witness_cell(result)}" if args.witness_only
            else f"suite {'caught' if result.caught_by_suite else '-'}, explore {explored}"
        )
        print(f": {progress}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - started
    print(table(results))
    measured = f"revision {args.revision} = {commit[:10]}" if commit else "working tree"
    print(
        f"wall time {wall:.0f} s for {len(results)} row(s); explore -n {args.examples} "
        f"--seed {args.seed}; {measured}"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "git_head": _git_head(),
                    "revision": args.revision,
                    "commit": commit,
                    "working_tree_changes": _working_tree_changes(),
                    "python": platform.python_version(),
                    "examples": args.examples,
                    "seed": args.seed,
                    "wall_seconds": round(wall, 1),
                    "results": [
                        {**asdict(r), "caught_by_suite": r.caught_by_suite,
                         "caught_by_explore": r.caught_by_explore, "escapes": r.escapes}
                        for r in results
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
