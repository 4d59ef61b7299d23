"""A run is a function of (scenario, seed): same trace SHA-256 in another process, whatever the
hash seed; another seed gives another trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import sys
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario
scenario = small_scenario("design.payment_flow=" + sys.argv[2], "workload.users=25")
print(run_scenario(scenario, int(sys.argv[1])).trace_sha256)
"""


def trace_hash(seed: int, hash_seed: str, flow: str = "sync") -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(seed), flow],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def test_same_seed_gives_same_trace_hash_across_processes_and_hash_seeds() -> None:
    first = trace_hash(3, "0")
    assert len(first) == 64
    assert trace_hash(3, "12345") == first
    assert trace_hash(3, "random") == first


def test_choreography_flow_is_deterministic_too() -> None:
    assert trace_hash(5, "1", "choreography") == trace_hash(5, "999", "choreography")


def test_different_seeds_give_different_traces() -> None:
    assert trace_hash(3, "0") != trace_hash(4, "0")
