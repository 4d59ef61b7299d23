"""A migration in motion (``scenario.migration``, seed 9): what the timeline of the move needs,
read from the trace: each step and its outcome, the share of users moved over time, the writes and
the reads the fences refused, the writes a store took for a user it did not own, the copy's applied
batches and its lag behind each store's commit log, and, in bins of simulated time, the calls to the
moving service each store received and the client operations' latency, errors and domain refusals by
the store that served them. The stores are the moving service's: ``point`` and ``point_new``,
``queue`` and ``queue_new``, or ``concert`` and ``concert_new``."""

from __future__ import annotations

import math
from typing import Any

from concertsim.metrics.distribution import percentile
from concertsim.metrics.records import RecordsByKind, in_trace_order
from concertsim.models.errors import DOMAIN_CODES
from concertsim.scenarios.migration_plan import MigrationPlan
from concertsim.sim.run.result import RunResult

__all__ = ["migration_timeline", "move_timeline", "chained_timelines", "NO_CALL", "bin_seconds", "stores_of"]

_STEP_KEYS = ("step", "action", "outcome")
NO_CALL = "none"
"""The store of a client operation that made no call to the moving service (``operations``'s
third key)."""


def stores_of(service: str) -> tuple[str, str]:
    """The hosts of the old and the new store of ``service`` (``point`` and ``point_new``)."""
    return service, f"{service}_new"
_BIN_WIDTHS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
_MAX_BINS = 60


def bin_seconds(span: float) -> int:
    """The narrowest of 1, 2, 5, 10, 20, 30 s, 1, 2, 5, 10, 30, 60 min that cuts ``span`` seconds
    into at most 60 bins (the widest for a longer span)."""
    return next((width for width in _BIN_WIDTHS if span / width <= _MAX_BINS), _BIN_WIDTHS[-1])


def _lag(records: RecordsByKind, old: str, new: str) -> dict[str, list[list[float]]]:
    """For each direction of the copy, [time, commits captured from the source's commit log that
    the target had not applied yet] at each change of that count."""
    captured: dict[str, int] = {}
    applied: dict[str, int] = {}
    lag: dict[str, list[list[float]]] = {f"{old}->{new}": [], f"{new}->{old}": []}
    for r in in_trace_order(records, "point.captured", "point.replicated"):
        if r.party not in (old, new):
            continue
        if r.kind == "point.captured":
            direction = f"{r.party}->{r.data['target']}"
            captured[direction] = r.data["through"]
        else:
            direction = f"{r.data['source']}->{r.party}"
            applied[direction] = r.data["through"]
        behind = max(0, captured.get(direction, 0) - applied.get(direction, 0))
        series = lag.setdefault(direction, [])
        if series and series[-1][0] == r.at:
            series[-1][1] = behind
        elif not series or series[-1][1] != behind:
            series.append([r.at, behind])
    return lag


def _by_bin(result: RunResult, records: RecordsByKind, width: int, stores: tuple[str, str]) -> tuple[
        dict[str, list[int]], dict[str, dict[str, list[Any]]]]:
    """The calls to the moving service each store received per bin (every attempt, the copy's own
    excepted), and per bin the client operations begun, by the store their last call to the
    service went to (:data:`NO_CALL` without one): ``ops``; ``failed`` (refused by the system: a
    5xx, a failed dependency, a 429) and ``unknown`` (no answer), the errors; ``refused`` (refused
    by a business rule, a code of :data:`~concertsim.models.errors.DOMAIN_CODES` such as
    ``seat-unavailable``: the design answering, not an error); ``p95_ms`` of those that ended
    (None without any)."""
    bins = max(1, math.ceil(result.phases.ended_at / width))
    replicate = f"{stores[0]}.replicate"
    calls = {store: [0] * bins for store in stores}
    served_by: dict[str, str] = {}
    for r in records.get("call.send", ()):
        store = r.data.get("to")
        if store in calls and r.data.get("endpoint") != replicate:
            calls[store][min(bins - 1, int(r.at // width))] += 1
            if r.trace_id:
                served_by[r.trace_id] = store
    latencies: dict[str, list[list[float]]] = {store: [[] for _ in range(bins)] for store in (*stores, NO_CALL)}
    operations = {store: {"ops": [0] * bins, "failed": [0] * bins, "unknown": [0] * bins, "refused": [0] * bins}
                  for store in (*stores, NO_CALL)}
    for op in result.history:
        store = served_by.get(op.op_id, NO_CALL)
        index = min(bins - 1, int(op.invoke_at // width))
        operations[store]["ops"][index] += 1
        if op.outcome == "unknown":
            operations[store]["unknown"][index] += 1
        elif op.outcome == "fail":
            operations[store]["refused" if op.error in DOMAIN_CODES else "failed"][index] += 1
        if op.complete_at is not None:
            latencies[store][index].append(op.complete_at - op.invoke_at)
    for store, series in operations.items():
        series["p95_ms"] = [round(percentile(sorted(values), 95) * 1000, 3) if values else None
                            for values in latencies[store]]
    return calls, operations


def migration_timeline(result: RunResult, records: RecordsByKind) -> dict[str, Any] | None:
    """None without a plan; else the timeline of the plan's move (:func:`move_timeline`), and under
    ``then`` that of the next plan of its chain, if it has one (and so on)."""
    plan = result.scenario.migration
    if plan is None:
        return None
    timelines = [move_timeline(result, records, chained) for chained in plan.chain()]
    for timeline, following in zip(timelines, timelines[1:]):
        timeline["then"] = following
    return timelines[0]


def chained_timelines(timeline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The timeline of each move of a chain, in order: ``timeline`` and each one under ``then``."""
    found = []
    while timeline is not None:
        found.append(timeline)
        timeline = timeline.get("then")
    return found


def move_timeline(result: RunResult, records: RecordsByKind, plan: MigrationPlan) -> dict[str, Any]:
    """The move of ``plan``'s service: ``service``, ``stores`` (the old and the new store's hosts),
    ``capture``, the safeguards (``acks``, ``verify``,
    ``catch_up``, ``fence``), ``steps`` (each step's record: ``at``, ``step``, ``action``,
    ``outcome`` and what it did), ``moved`` ([time, users on the new store] after each move,
    ``users`` in all), ``moved_while_copy_lagged``, ``refused`` (times of writes a fence refused),
    ``refused_reads`` (times of reads a fenced store refused: Concert's fence covers reads),
    ``relay_started`` (when the new store's relay started, if the move held it back: Reservation's
    waits for the old store's outbox to be published),
    ``stray_writes`` (times a store committed a write of a user it did not own, by store),
    ``copied`` (for each direction, [time, changes applied] per batch), ``lag`` (for each direction,
    [time, commits of the source not yet applied by the target] at each change), ``bin_seconds``,
    and per bin of that width from 0: ``calls`` (the calls to the moving service each store
    received) and ``operations`` (for each store and :data:`NO_CALL`, the client operations begun
    whose last call to the service went there: ``ops``, the errors ``failed`` and ``unknown``, the
    domain refusals ``refused``, ``p95_ms``). Only the records of this service's two stores count."""
    old, new = stores_of(plan.service)
    stores = (old, new)
    steps = [{"at": r.at, **{k: r.data[k] for k in _STEP_KEYS},
              **{k: v for k, v in sorted(r.data.items()) if k not in _STEP_KEYS and k != "service"}}
             for r in records.get("migration.step", ()) if r.data["service"] == plan.service]
    on_new = 0
    moved: list[list[float]] = []
    lagged = 0
    for r in records.get("migration.moved", ()):
        if r.data["to"] not in stores:
            continue
        on_new += 1 if r.data["to"] == new else -1
        lagged += 1 if r.data["pending"] else 0
        if moved and moved[-1][0] == r.at:
            moved[-1][1] = on_new
        else:
            moved.append([r.at, on_new])
    stray: dict[str, list[float]] = {old: [], new: []}
    for r in records.get("migration.write", ()):
        if r.party in stores:
            stray[r.party].append(r.at)
    copied: dict[str, list[list[float]]] = {f"{old}->{new}": [], f"{new}->{old}": []}
    for r in records.get("point.replicated", ()):
        if r.party in stores:
            copied.setdefault(f"{r.data['source']}->{r.party}", []).append([r.at, r.data["changes"]])
    width = bin_seconds(result.phases.ended_at)
    calls, operations = _by_bin(result, records, width, stores)
    return {
        "service": plan.service,
        "stores": [old, new],
        "capture": plan.capture,
        "acks": plan.acks,
        "verify": plan.verify,
        "catch_up": plan.catch_up,
        "fence": plan.fence,
        "users": result.scenario.workload.users,
        "steps": steps,
        "moved": moved,
        "moved_while_copy_lagged": lagged,
        "refused": [r.at for r in records.get("migration.refused", ()) if r.party in stores],
        "refused_reads": [r.at for r in records.get("migration.read_refused", ()) if r.party in stores],
        "relay_started": [r.at for r in records.get("migration.relay_started", ()) if r.data["store"] in stores],
        "stray_writes": stray,
        "copied": copied,
        "lag": _lag(records, old, new),
        "bin_seconds": width,
        "calls": calls,
        "operations": operations,
    }
