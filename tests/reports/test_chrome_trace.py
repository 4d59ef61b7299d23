"""The Chrome trace-event export is well formed."""

from __future__ import annotations

import json
from collections import Counter

from concertsim.reports.exports.chrome_trace import chrome_trace
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario


def test_chrome_trace_is_well_formed() -> None:
    result = run_scenario(small_scenario("workload.users=10", "faults=[{at: 3, kind: crash, target: point, duration: 2}]"))
    trace = json.loads(json.dumps(chrome_trace(result)))
    events = trace["traceEvents"]
    assert all({"ph", "ts", "pid"} <= set(e) for e in events)
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")
    phases = Counter(e["ph"] for e in events)
    assert phases["X"] > 0 and phases["M"] >= 8
    starts = {e["id"] for e in events if e["ph"] == "s"}
    assert {e["id"] for e in events if e["ph"] == "f"} <= starts
    assert any(e["name"] == "fault.start" for e in events if e["ph"] == "i")


def test_one_saga_is_a_connected_chain_of_arrows() -> None:
    result = run_scenario(small_scenario("workload.users=3"))
    events = chrome_trace(result)["traceEvents"]
    pay = next(e for e in events if e["ph"] == "X" and e["cat"] == "serve" and e["name"] == "POST /api/v1/payments")
    saga = pay["args"]["trace"]
    spans = [e for e in events if e["ph"] == "X" and e.get("args", {}).get("trace") == saga]
    names = {e["name"] for e in spans}
    assert {"POST /api/v1/payments", "reservation.pay", "point.use"} <= names  # client → gateway → services
    assert any(e["cat"] == "consume" for e in spans)  # and the events the saga raised, handled
    call_flows = [e for e in events if e.get("cat") == "call" and e["ph"] in ("s", "f")]
    assert call_flows and Counter(e["ph"] for e in call_flows)["s"] == Counter(e["ph"] for e in call_flows)["f"]
