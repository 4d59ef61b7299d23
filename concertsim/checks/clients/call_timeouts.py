"""``calls-wait-their-timeout``: a caller gives up on a call only when its timeout has passed.

Every synchronous call has one wait, set by the scenario for who is calling: the client waits
``workload.client_timeout`` for the gateway, the gateway waits ``network.gateway_timeout`` for the
service a route leads to (seed 8: the gateway, not the service-to-service timeout, bounds a
buyer's request), and a service waits ``network.call_timeout`` for another service (the gateway's
token check with Queue included). A call that ends in a timeout sooner than that was given up
while its answer could still come: a hold or a payment that went through is answered "unknown",
and the buyer walks away from a seat they were given. No fault excuses it: a fault can make an
answer late, never make the caller's clock run fast.

Judged from the trace: each ``call.return`` whose outcome is ``timeout``, against its
``call.send``.
"""

from __future__ import annotations

from concertsim.checks.base import Violation, invariant
from concertsim.scenarios.schema import Scenario
from concertsim.sim.hosting.gateway import ROUTES
from concertsim.sim.run.result import RunResult

__all__ = ["timeout_of"]

_CLIENT, _GATEWAY = "client", "gateway"
_ROUTED = frozenset(route.endpoint for route in ROUTES.values())
_SLACK = 1e-9


def timeout_of(scenario: Scenario, caller: str, endpoint: str) -> float:
    """How long ``caller`` waits for an answer of ``endpoint`` (see the module docstring)."""
    if caller == _CLIENT:
        return scenario.workload.client_timeout
    if caller == _GATEWAY and endpoint in _ROUTED:
        return scenario.network.gateway_timeout
    return scenario.network.call_timeout


@invariant(
    "calls-wait-their-timeout",
    "safety",
    "A caller gives up on a call only after its timeout: the client's, the gateway's for the "
    "service behind a route, the service-to-service one otherwise.",
)
def calls_wait_their_timeout(result: RunResult) -> list[Violation]:
    sent: dict[str, tuple[int, float]] = {}
    violations = []
    for record in result.trace.of_kind("call.send", "call.return"):
        call = record.data["call"]
        if record.kind == "call.send":
            sent[call] = (record.seq, record.at)
            continue
        began = sent.pop(call, None)  # a call returns once: only the calls in flight are held
        if record.data["outcome"] != "timeout" or began is None:
            continue
        send_seq, send_at = began
        endpoint = record.data["endpoint"]
        waited = record.at - send_at
        expected = timeout_of(result.scenario, record.party, endpoint)
        if waited + _SLACK < expected:
            violations.append(
                Violation(
                    "calls-wait-their-timeout",
                    f"{record.party} gave up on {endpoint} ({call}) after {waited:.3f}s, before its "
                    f"timeout of {expected:g}s",
                    at=record.at,
                    evidence={"call": call, "caller": record.party, "endpoint": endpoint,
                              "waited": waited, "timeout": expected, "operation": record.trace_id},
                    records=(send_seq, record.seq),
                )
            )
    return violations
