"""Where a run's time goes, by source file: the own samples of a py-spy raw profile.

Reads a profile written by ``py-spy record -f raw`` and, counting only the samples taken inside
``run_scenario``, sums each sample on the file of its innermost frame (the code running then).
SimPy's files, the run's event loop (``event_budget.py``) and its tasks (``tasks.py``) are summed
as well under "the event core": what a different simulator core could make cheaper, as against the
model's own work (calls, transactions, draws, records, the domain), which it would still do.

Usage:
    pip install py-spy
    py-spy record -r 500 -f raw -o spy.txt -- python -c "import sys; sys.path.insert(0, 'bench'); \\
        import bench_messages as b; from concertsim.sim.run.runner import run_scenario; \\
        [run_scenario(b.scaled(1)) for _ in range(12)]"
    python bench/own_time.py spy.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

EVENT_CORE = ("simpy/", "concertsim/sim/run/event_budget.py", "concertsim/sim/infrastructure/tasks.py")
"""Files whose code is the event core: SimPy's, and the run's own loop and tasks."""

_FRAME = re.compile(r"^.* \((?P<path>.+):\d+\)$")


def own_samples(profile: Path, inside: str = "run_scenario") -> Counter[str]:
    """Samples by the file of their innermost frame, of the stacks that pass through ``inside``."""
    by_file: Counter[str] = Counter()
    for line in profile.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not any(frame.startswith(f"{inside} ") for frame in frames):
            continue
        matched = _FRAME.match(frames[-1])
        by_file[matched["path"] if matched else frames[-1]] += int(count)
    return by_file


def in_event_core(path: str) -> bool:
    return any(part in path for part in EVENT_CORE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="a py-spy raw profile (py-spy record -f raw)")
    parser.add_argument("--top", type=int, default=25, help="files to list")
    args = parser.parse_args()
    by_file = own_samples(args.profile)
    total = sum(by_file.values())
    if not total:
        raise SystemExit(f"{args.profile}: no sample inside run_scenario")
    print(f"{total:,} samples inside run_scenario")
    for path, count in by_file.most_common(args.top):
        print(f"{count / total:6.1%}  {path}{'  (event core)' if in_event_core(path) else ''}")
    core = sum(count for path, count in by_file.items() if in_event_core(path))
    print(f"\nthe event core: {core / total:.1%}; everything else: {1 - core / total:.1%}")


if __name__ == "__main__":
    main()
