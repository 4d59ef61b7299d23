"""What a run cost its users and its pools, in one line under the verdict: bookings, p95 latency,
payments that failed or ended unknown, the first pool to saturate and when, and the faults with
what they cost. Every figure is one the run's metrics already hold (``summary.json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from concertsim.metrics.headline import headline_measures
from concertsim.metrics.resources import first_saturated
from concertsim.reports.document.formatting import plural

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["impact_line", "saturation_words", "fault_cost_words"]


def saturation_words(resources: dict[str, dict[str, Any]]) -> str:
    """``queue workers saturated at 10 s``, the first pool to saturate, or ``no pool saturated``."""
    saturated = first_saturated(resources)
    if not saturated:
        return "no pool saturated"
    name, second = saturated[0]
    return f"{name.replace('.', ' ').replace('_', ' ')} saturated at {second} s"


def fault_cost_words(metrics: dict[str, Any]) -> str:
    """``no faults``, or the fault windows, the messages they struck (if any: an outage or a partition
    strikes none one by one), and how long the system took to become quiescent after the last one
    ended."""
    faults, time = metrics["faults"], metrics["time"]
    if not faults["windows"] and not faults["message_strikes"]:
        return "no faults"
    words = plural(faults["windows"], "fault window")
    if faults["message_strikes"]:
        words += f" striking {plural(faults['message_strikes'], 'message')}"
    if time["settled_at"] is None:
        return words + ", and the system never became quiescent after the heal"
    if time.get("time_to_convergence") is not None:
        return words + f", quiescent {time['time_to_convergence']:,.1f} s after the last ended"
    return words


def impact_line(outcome: RunOutcome) -> str:
    """One line of what the run did to its users: ``Impact: 460 of 3000 users booked; p95 latency
    1,023 ms; payments 0 failed, 0 unknown; queue workers saturated at 10 s; no faults.``

    The p95 is over every completed client operation (the ``latency_p95_ms`` headline measure);
    failed and unknown payments are the users whose visit ended on one (``funnel_losses``)."""
    metrics = outcome.metrics
    booked = f"{metrics['funnel']['confirmed']} of {plural(metrics['users'], 'user')} booked"
    p95 = headline_measures(outcome.result, metrics)["latency_p95_ms"]
    latency = "no request completed" if p95 is None else f"p95 latency {p95:,.0f} ms"
    losses = metrics.get("funnel_losses") or {}
    payments = f"payments {losses.get('payment-failed', 0)} failed, {losses.get('payment-unknown', 0)} unknown"
    parts = [booked, latency, payments, saturation_words(metrics.get("resources") or {}), fault_cost_words(metrics)]
    return "Impact: " + "; ".join(parts) + "."
