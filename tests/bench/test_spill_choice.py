"""``bench/spill_choice.py``, which bench/README.md names, measures a streamed run with the default
kinds spilled and with more, each in a fresh process, and both give the same trace."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_both_ways_of_spilling_give_the_same_trace() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "spill_choice.py"), "--scale", "1", "--also", "broker.deliver,client.exit"],
        check=True, capture_output=True, text=True,
    )
    rows = re.findall(r"^(the default kinds|those and --also) +([\d,]+) +([\d.]+) +([\d.]+) +([\d.]+) +(\w{12})…$",
                      done.stdout, re.MULTILINE)
    assert [row[0] for row in rows] == ["the default kinds", "those and --also"], done.stdout
    kept = [int(row[1].replace(",", "")) for row in rows]
    assert kept[1] < kept[0]  # the deliveries and exits left memory
    assert rows[0][5] == rows[1][5]  # and the trace is the same
    assert all(float(row[2]) > 10 for row in rows)  # a peak in MiB, not kB
