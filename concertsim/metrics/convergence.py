"""Time to convergence: how long a run took to become quiescent once its last fault was over."""

from __future__ import annotations

from concertsim.sim.run.result import RunResult

__all__ = ["faults_ended_at", "time_to_convergence"]


def faults_ended_at(result: RunResult) -> float | None:
    """When the run's last fault ended (None for a run in which no fault started). A fault that
    lasts until heal ends at heal; one with a duration at its start plus the duration (or earlier,
    if the heal lifted it first)."""
    windows = result.fault_windows
    if not windows:
        return None
    heal = result.phases.heal_at
    return max(heal if window.get("end") is None else float(window["end"]) for window in windows)


def time_to_convergence(result: RunResult) -> float | None:
    """Seconds from the end of the last fault to quiescence: the recovery the faults needed.

    None when it does not apply (no fault started, so there is nothing to recover from: the time
    from the nominal heal to quiescence would measure the users' tail and the hold TTL) and when
    the run never became quiescent; ``faults_ended_at`` and ``settled_at`` tell the two apart."""
    ended = faults_ended_at(result)
    settled = result.phases.settled_at
    if ended is None or settled is None:
        return None
    return max(0.0, settled - ended)
