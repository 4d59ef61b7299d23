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

The planted copy (``bench/planting.py``) is put first on ``PYTHONPATH`` of each subprocess, with
``PYTHONSAFEPATH=1``: without it, ``python -m`` and ``python -c`` put the working directory first
on ``sys.path`` and import the checkout's package instead of the planted one. Each subprocess also
checks that the ``concertsim`` it imported is the planted copy's and refuses to run otherwise.
Runs are sequential: one simulation process at a time. The results, and the table printed of
them, are in ``bench/planted_results.py``.
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
from dataclasses import asdict
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # run as a script or loaded by path
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from defects import DEFECTS, FLOWS, MECHANISMS, WITNESSES, Defect  # noqa: E402
from planted_results import (  # noqa: E402
    WITNESS_BASE, DefectResult, ExploreResult, SuiteResult, WitnessResult, table, witness_cell,
)
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
            f"witness {witness_cell(result)}" if args.witness_only
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
