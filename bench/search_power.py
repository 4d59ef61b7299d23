"""Search power: how many examples the default `concertsim explore` needs to break a weakened design.

For the full design (the baseline: no seed may find anything, or the other cells' catches mean
nothing), every design switch that removes a safeguard (× payment flow, except where the safeguard
is documented redundant) and every planted defect of ``bench/defects/`` (× the flows it affects),
runs the default search (all fault kinds, all invariants, ``-n 200``) with 20 search seeds and
prints, per cell: how many seeds found a violation within the budget, the median and
90th percentile of examples to the first failure (a miss counts as more than the budget), and
examples per second. Targets: found by at least 19 of 20 seeds, median at most 40.

Switches are searched on ``small-opening``; a defect on its own scenario (``Defect.scenario``: the
built-in a user would pick for its mechanism, e.g. ``orchestrated-payments``), and every scenario
other than ``small-opening`` that a defect names gets baseline cells of its own.

Each cell runs in a subprocess (a planted defect's in a patched copy of the package), ``--jobs``
at a time.

Usage: python bench/search_power.py [--seeds 20] [--examples 200] [--jobs 2] [--only TEXT ...]
                                    [--kind baseline|switch|defect] [--invariants ID,...] [--json FILE]

``--invariants`` restricts every chosen cell's search to those invariants (default: all): for a
scenario whose full design the default search already breaks, a defect cell then counts only the
breaks the defect adds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOWS = ("sync", "choreography")
BASE = "small-opening"
TARGET_FOUND, TARGET_MEDIAN = 19, 40


@dataclass(frozen=True)
class Cell:
    """One row of the table: a switch or a planted defect, in one payment flow."""

    kind: str  # "baseline" (the full design: nothing may be found), "switch" or "defect"
    name: str
    flow: str
    scenario: str = BASE
    settings: tuple[str, ...] = ()
    """Overrides of ``scenario`` a defect's mechanism needs (``Defect.settings``)."""

    @property
    def label(self) -> str:
        where = "" if self.scenario == BASE or self.kind == "defect" else f" of {self.scenario}"
        return f"{self.name.removeprefix('design.')}{where} ({self.flow})"


def cells() -> list[Cell]:
    from concertsim.ablation import SAFEGUARDS

    defects = _defects()
    found = [Cell("baseline", "full design", flow) for flow in FLOWS]
    for scenario, flow in dict.fromkeys((d.scenario, f) for d in defects if d.scenario != BASE for f in d.flows):
        found.append(Cell("baseline", "full design", flow, scenario))
    for scenario, settings, flow in dict.fromkeys(
        (d.scenario, d.settings, f) for d in defects if d.settings for f in d.flows
    ):
        found.append(Cell("baseline", f"design with {', '.join(settings)}", flow, scenario, settings))
    switched = [Cell("switch", s.switch, flow, BASE, s.setting) for s in SAFEGUARDS for flow in _switch_flows(s)]
    # A switch searched outside FLOWS (with its setting) needs the full design's cell there too.
    found += [Cell("baseline", f"design with {', '.join(c.settings)}", c.flow, BASE, c.settings)
              for c in switched if c.flow not in FLOWS]
    found += switched
    for defect in defects:
        found += [Cell("defect", defect.id, flow, defect.scenario, defect.settings) for flow in defect.flows]
    return list(dict.fromkeys(found))


def _switch_flows(safeguard: Any) -> tuple[str, ...]:
    """The flows a switch's cells search: those of :data:`FLOWS` where the safeguard is needed, or,
    if it is documented redundant in both, the orchestration flow where it is needed there
    (``design.fencing``: a zombie saga driver's step)."""
    flows = tuple(f for f in FLOWS if f not in safeguard.redundant_in and safeguard.applies_to(f))
    if flows or "orchestration" in safeguard.redundant_in or not safeguard.applies_to("orchestration"):
        return flows
    return ("orchestration",)


def _planted_defects() -> Any:
    """The module ``bench/planted_defects.py`` (the runner, with the catalogue of
    ``bench/defects/`` and ``planted_copy``), or None."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import planted_defects
    except ImportError:
        return None
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return planted_defects


def _defects() -> tuple[Any, ...]:
    catalogue = _planted_defects()
    return tuple(catalogue.DEFECTS) if catalogue is not None else ()


def search_cell(
    switch: str | None, flow: str, seeds: list[int], examples: int, scenario: str = BASE,
    invariants: list[str] | None = None, settings: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """In this process: the default search of the built-in ``scenario`` in ``flow`` (with
    ``settings`` and ``switch`` applied), once per seed; per seed the examples to the first
    failure (None: not found)."""
    from concertsim.ablation import ablated
    from concertsim.exploration import explore
    from concertsim.scenarios.loader import load_builtin

    design = ablated(load_builtin(scenario), switch or f"design.payment_flow={flow}", flow, settings)
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        found = explore(design, examples=examples, seed=seed, shrink_budget=0, invariants=invariants)
        rows.append({
            "seed": seed, "at": found.examples_to_failure, "examples": found.generated,
            "seconds": time.perf_counter() - started,
        })
    return rows


def run_cell(cell: Cell, seeds: int, examples: int, invariants: str = "") -> list[dict[str, Any]]:
    """Run ``cell`` in a subprocess: the checkout for a switch, a planted copy for a defect."""
    planted: Any = nullcontext(ROOT)
    switch = "" if cell.kind == "baseline" else cell.name
    if cell.kind == "defect":
        catalogue = _planted_defects()
        planted = catalogue.planted_copy(next(d for d in catalogue.DEFECTS if d.id == cell.name))
        switch = ""
    with planted as package_root:
        env = {**os.environ, "PYTHONPATH": str(package_root)}
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", switch, cell.flow,
                   str(seeds), str(examples), cell.scenario, invariants, json.dumps(list(cell.settings))]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{cell.label}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def summarise(rows: list[dict[str, Any]], examples: int) -> dict[str, Any]:
    hits = sorted(r["at"] if r["at"] is not None else math.inf for r in rows)
    tried = sum(r["examples"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    return {
        "found": sum(1 for h in hits if h <= examples),
        "seeds": len(rows),
        "median": _nearest_rank(hits, 0.5),
        "p90": _nearest_rank(hits, 0.9),
        "examples_per_second": tried / seconds if seconds else 0.0,
    }


def _nearest_rank(values: list[float], q: float) -> float:
    return values[max(0, math.ceil(q * len(values)) - 1)]


def _show(value: float, examples: int) -> str:
    return f">{examples}" if value == math.inf else str(int(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="cells whose label contains any of these")
    parser.add_argument("--kind", choices=("baseline", "switch", "defect"), default=None,
                        help="only the full design, only switches or only defects")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--invariants", default="", metavar="ID,...",
                        help="search for violations of these invariants only (default: all)")
    parser.add_argument("--worker", nargs=7,
                        metavar=("SWITCH", "FLOW", "SEEDS", "EXAMPLES", "SCENARIO", "INVARIANTS", "SETTINGS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        switch, flow, seeds, examples, scenario, invariants, settings = args.worker
        print(json.dumps(search_cell(switch or None, flow, list(range(int(seeds))), int(examples), scenario,
                                     invariants.split(",") if invariants else None, tuple(json.loads(settings)))))
        return

    chosen = [
        c for c in cells()
        if (not args.only or any(o in c.label for o in args.only)) and args.kind in (None, c.kind)
    ]
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.seeds} seeds x {args.examples} examples per cell, {args.jobs} cells at a time"
          f"{'; invariants ' + args.invariants if args.invariants else ''}")
    print(f"| cell | kind | found within {args.examples} | median | p90 | examples/s | target |")
    print("|---|---|---:|---:|---:|---:|---|")
    results = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [(cell, pool.submit(run_cell, cell, args.seeds, args.examples, args.invariants)) for cell in chosen]
        for cell, future in futures:
            summary = summarise(future.result(), args.examples)
            if cell.kind == "baseline":  # a catch elsewhere means something only if this finds nothing
                met = summary["found"] == 0
            else:
                met = summary["found"] >= TARGET_FOUND * args.seeds / 20 and summary["median"] <= TARGET_MEDIAN
            results.append({"cell": cell.label, "kind": cell.kind, **summary, "met": met})
            print(f"| {cell.label} | {cell.kind} | {summary['found']}/{summary['seeds']} | "
                  f"{_show(summary['median'], args.examples)} | {_show(summary['p90'], args.examples)} | "
                  f"{summary['examples_per_second']:.0f} | {'met' if met else 'MISSED'} |", flush=True)
    met = sum(1 for r in results if r["met"])
    print(f"\n{met} of {len(results)} cells meet the target; {time.perf_counter() - started:.0f} s wall")
    if args.json:
        args.json.write_text(json.dumps(
            [{**r, "median": None if r["median"] == math.inf else r["median"],
              "p90": None if r["p90"] == math.inf else r["p90"]} for r in results], indent=1))


if __name__ == "__main__":
    main()
