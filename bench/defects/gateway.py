"""The gateway and the hosts' call timeouts."""

from __future__ import annotations

from .defect import Defect, BOTH, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="gateway-timeout-reported-as-unavailable",
        path="concertsim/sim/hosting/gateway.py",
        before='return Failed("gateway-timeout", f"{route.service} did not answer", transient=True)',
        after='return Failed("unavailable", f"{route.service} did not answer", transient=True)',
        flows=BOTH,
        why="Answering 503 instead of 504 when a service did not answer in time tells the client "
        "its payment definitely failed when it may have gone through (client-outcomes-honoured).",
        witness=(
            faults("{at: 0, kind: drop, target: reply, match: {message_type: reservation.pay, count: 3}}"),
        ),
    ),
    Defect(
        id="host-call-ignores-timeout-override",
        path="concertsim/sim/hosting/host.py",
        before="timeout=timeout or spec.call_timeout,",
        after="timeout=spec.call_timeout or timeout,",
        flows=BOTH,
        why="Swapping the operands makes the gateway wait only the 0.5 s service-to-service "
        "timeout instead of its own 3 s, so a hold or payment slower than that is answered "
        "'unknown' although it went through (buyers lose seats they were given; no sale).",
        witness=(
            faults("{at: 0, kind: delay, target: request, match: {message_type: reservation.hold}, params: {seconds: 0.5}}"),
        ),
    ),
)
