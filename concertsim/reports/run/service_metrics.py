"""The run report's service metrics: server-side time per endpoint, event processing per consumer
group, read-model staleness (with its figure), retry and failure rates, and capacity (which
worker or connection pool saturated first, with its figure, and the hot rows that write conflicts
show), as report blocks.

Everything shown comes from the run's ``metrics`` (``summary.json``, which holds the full tables);
long tables are cut to their top rows here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from concertsim.metrics.resources import SATURATED, first_saturated
from concertsim.metrics.staleness import READ_MODELS
from concertsim.reports.plotting import capacity as capacity_figure
from concertsim.reports.run import service_series_figure
from concertsim.reports.run.broker_delivery import broker_delivery_blocks
from concertsim.reports.document.blocks import Block, Heading, Image, Paragraph, Table
from concertsim.reports.run.payment_sagas import payment_saga_blocks
from concertsim.reports.migration.point_shift import point_shift_blocks
from concertsim.sim.run.result import RunResult
from concertsim.reports.run.replicas import replica_blocks
from concertsim.reports.run.staleness_figure import DRAWN, FILE_NAME, staleness_png

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["service_metrics_blocks", "hot_row_blocks", "TOP_ROWS"]

TOP_ROWS = 12
"""The most rows a table shows; the rest are in summary.json."""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _count_text(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _more(shown: int, total: int, what: str) -> str:
    if total <= shown:
        return ""
    return f" Shown: the {shown} of {total} with the highest {what}; summary.json has them all."


def _server_time_blocks(metrics: dict[str, Any]) -> list[Block]:
    client = metrics["latency"]
    rows = [
        (service, endpoint, stats)
        for service, endpoints in metrics["server_time"].items()
        for endpoint, stats in endpoints.items()
    ]
    blocks: list[Block] = [Heading(3, "Server-side time per endpoint")]
    if not rows:
        return blocks + [Paragraph("No request was served.")]
    rows.sort(key=lambda row: (-(row[2]["p95_ms"] or 0.0), row[0], row[1]))
    shown = rows[:TOP_ROWS]
    blocks += [
        Paragraph(
            "From a request's arrival at the server to its reply leaving it: waiting for a worker, the "
            "service time and the handler's own transactions and calls, in milliseconds of simulated "
            "time. The client's latency (the gateway's routes) adds the network both ways and the "
            "client's retries." + _more(len(shown), len(rows), "p95")
        ),
        Table(
            ["service", "endpoint", "requests", "p50", "p95", "p99", "max", "worker wait p95", "client p95"],
            [
                [service, endpoint, str(stats["count"]), _ms(stats["p50_ms"]), _ms(stats["p95_ms"]),
                 _ms(stats["p99_ms"]), _ms(stats["max_ms"]), _ms(stats["worker_wait_p95_ms"]),
                 _ms(client[endpoint]["p95_ms"]) if service == "gateway" and endpoint in client else "-"]
                for service, endpoint, stats in shown
            ],
        ),
    ]
    return blocks


def _event_blocks(metrics: dict[str, Any]) -> list[Block]:
    groups = metrics["event_processing"]
    blocks: list[Block] = [Heading(3, "Event processing per consumer group")]
    if not groups:
        return blocks + [Paragraph("No consumer group.")]
    blocks += [
        Paragraph(
            "Age: from an event's raising (the commit that wrote it) to the group's first handling of "
            "it. Handling: from its delivery to the consumer to its handling, waiting for a worker and "
            "failed attempts included. In milliseconds of simulated time."
        ),
        Table(
            ["group", "handled", "age p50", "age p95", "age max", "handling p95", "duplicates skipped",
             "failures", "dead-lettered", "never handled"],
            [
                [group, str(g["handled"]), _ms(g["age_ms"]["p50_ms"]), _ms(g["age_ms"]["p95_ms"]),
                 _ms(g["age_ms"]["max_ms"]), _ms(g["handling_ms"]["p95_ms"]), str(g["duplicates_skipped"]),
                 str(g["failures"]), str(g["dead_lettered"]), str(g["never_handled"])]
                for group, g in groups.items()
            ],
        ),
    ]
    return blocks


def _staleness_blocks(outcome: RunOutcome, with_figure: bool) -> list[Block]:
    staleness = outcome.metrics["staleness"]
    blocks: list[Block] = [
        Heading(3, "Read-model staleness"),
        Paragraph(
            "How long after each change of Reservation's truth a read model showed it. A seat change "
            "is caught up when Concert's view of the seat next equals Reservation's (a change "
            "overtaken by a newer one waits for the newer one); a sale, when the group first handled "
            "it. In milliseconds of simulated time; \"never\" counts changes not shown when the run ended."
        ),
        Table(
            ["read model", "changes", "caught up", "never", "lag p50", "p95", "p99", "max"],
            [
                [READ_MODELS[key], str(model["changes"]), str(model["caught_up"]),
                 str(model["never_caught_up"]), _ms(model["lag_ms"]["p50_ms"]), _ms(model["lag_ms"]["p95_ms"]),
                 _ms(model["lag_ms"]["p99_ms"]), _ms(model["lag_ms"]["max_ms"])]
                for key, model in staleness.items()
            ],
        ),
    ]
    png = staleness_png(outcome.result, staleness) if with_figure else None
    if with_figure and png is None:
        blocks.append(Paragraph("No figure of staleness over time: no read model had a change to show."))
    if png is not None:
        drawn = " and ".join(label for key, (label, _) in DRAWN.items() if staleness[key]["changes"])
        blocks.append(Image(
            FILE_NAME, "Read-model staleness over time",
            f"{drawn}: the most changes of the truth not yet shown at once, and the oldest lag, in each "
            "bin of time. Fault windows are shaded; the dotted line is the heal.",
            png,
        ))
    return blocks


def _capacity_blocks(outcome: RunOutcome, with_figure: bool) -> list[Block]:
    resources = outcome.metrics["resources"]
    blocks: list[Block] = [Heading(3, "Capacity: worker and connection pools")]
    if not resources:
        return [*blocks, Paragraph("No bounded resource."),
                *hot_row_blocks(outcome.metrics, outcome.result.scenario.storage.conflict_retries)]
    saturated = first_saturated(resources)
    busiest = max(resources, key=lambda name: (resources[name]["peak_utilisation"], name))
    if saturated:
        order = "; then ".join(f"{name} at {second} s" for name, second in saturated[:4])
        lead = (f"Saturated (busy at least {SATURATED:.0%} of a second): {order}"
                + (f", and {len(saturated) - 4} more" if len(saturated) > 4 else "") + ". The first is where "
                "this load hurts first: requests queue for it, and everything behind it waits.")
    else:
        row = resources[busiest]
        lead = (f"No resource saturated. The busiest was {busiest}, {row['peak_utilisation']:.0%} busy at its "
                f"busiest second ({row['peak_at']} s).")
    ranked = sorted(resources, key=lambda name: (-resources[name]["peak_utilisation"], name))[:TOP_ROWS]
    blocks += [
        Paragraph(lead + " Utilisation is the share of the pool's servers busy, over the run and at the busiest "
                  "second; a wait is a request that found every server taken." + _more(len(ranked), len(resources),
                                                                                       "peak utilisation")),
        Table(
            ["resource", "size", "utilisation", "peak", "at (s)", "saturated from (s)", "waits", "mean wait (ms)",
             "max wait (ms)", "max queue"],
            [
                [name, str(r["capacity"]), f"{r['utilisation']:.1%}", f"{r['peak_utilisation']:.0%}",
                 "-" if r["peak_at"] is None else str(r["peak_at"]),
                 "-" if r["saturated_at"] is None else f"{r['saturated_at']} ({r['saturated_seconds']} s in all)",
                 str(r["waits"]), _ms(r["mean_wait_ms"]) if r["waits"] else "-",
                 _ms(r["max_wait_ms"]) if r["waits"] else "-", str(r["max_queue"])]
                for name, r in ((name, resources[name]) for name in ranked)
            ],
        ),
    ]
    png = capacity_figure.capacity_png(resources, outcome.result) if with_figure else None
    if png is not None:
        if capacity_figure.queue_drawn(resources):
            shown = "mean share of servers busy (top) and mean queue length (bottom)"
            left_out = ""
        else:
            shown = "mean share of servers busy"
            left_out = " No drawn pool ever had a request waiting, so the figure has no queue panel."
        blocks.append(Image(capacity_figure.FILE_NAME, "Utilisation and queues over time",
                            f"Each drawn pool's {shown} per second over the run: the pools that saturated, first "
                            f"to last, then the busiest (at most {capacity_figure.MOST_DRAWN}); the pool's size in "
                            f"brackets.{left_out}", png))
    return blocks + hot_row_blocks(outcome.metrics, outcome.result.scenario.storage.conflict_retries)


def hot_row_blocks(metrics: dict[str, Any], conflict_retries: int) -> list[Block]:
    """The "Hot rows" part of the capacity section: the write conflicts (``metrics.write_conflicts``)
    per database with their share of its commit attempts, per unit of work, and per row when the
    trace names the rows."""
    conflicts = metrics.get("write_conflicts")
    if conflicts is None:
        return []
    blocks: list[Block] = [Heading(4, "Hot rows: write conflicts")]
    total = conflicts["total"]
    if not total:
        return blocks + [Paragraph("No write conflict: no transaction found a row it read for update changed by "
                                   "another commit.")]
    databases = conflicts["by_database"]
    hottest, row = next(iter(databases.items()))
    blocks += [
        Paragraph(f"{_count_text(total, 'write conflict')}: each time, a transaction found a row it had read for "
                  "update changed by another commit and ran again (at most "
                  f"{_count_text(conflict_retries, 'time')}, then its request answered unavailable). "
                  f"{hottest.replace('_', ' ').capitalize()}'s database had {row['conflicts']} of them, "
                  f"{row['share']:.1%} of its commit attempts."
                  + _more(min(len(databases), TOP_ROWS), len(databases), "conflicts")),
        Table(["database", "write conflicts", "commits", "share of attempts"],
              [[service, str(r["conflicts"]), str(r["commits"]), f"{r['share']:.1%}"]
               for service, r in list(databases.items())[:TOP_ROWS]]),
    ]
    work = list(conflicts["by_work"].items())
    blocks += [
        Paragraph("By unit of work (the transaction that met the conflict)"
                  + _more(min(len(work), TOP_ROWS), len(work), "conflicts") + ":"),
        Table(["unit of work", "write conflicts"], [[label, str(count)] for label, count in work[:TOP_ROWS]]),
    ]
    if conflicts["hot_rows"]:
        blocks += [
            Paragraph("The hottest rows:"),
            Table(["database", "table", "row", "write conflicts"],
                  [[service, table, row_key, str(count)] for service, table, row_key, count in conflicts["hot_rows"]]),
        ]
    else:
        blocks.append(Paragraph("The trace names each conflict's database and unit of work, not the row it met, so "
                                "no row is named here."))
    return blocks


def _failure_text(failures: dict[str, int]) -> str:
    return ", ".join(f"{code} {count}" for code, count in sorted(failures.items(), key=lambda f: (-f[1], f[0])))


def _reliability_blocks(metrics: dict[str, Any]) -> list[Block]:
    calls = [
        (caller, endpoint, stats)
        for caller, endpoints in metrics["reliability"]["calls"].items()
        for endpoint, stats in endpoints.items()
    ]
    troubled = [row for row in calls if row[2]["ok"] < row[2]["calls"] or row[2]["retries"]]
    troubled.sort(key=lambda row: (-(row[2]["calls"] - row[2]["ok"]), -row[2]["retries"], row[0], row[1]))
    total = sum(stats["calls"] for _, _, stats in calls)
    blocks: list[Block] = [Heading(3, "Retries and failures")]
    if not troubled:
        blocks.append(Paragraph(f"Every one of the {_count_text(total, 'call')} between parties was answered ok, "
                                "none retried."))
    else:
        shown = troubled[:TOP_ROWS]
        blocks += [
            Paragraph(
                f"Calls answered other than ok, or retried ({len(troubled)} of {len(calls)} caller and "
                "endpoint pairs). A retry is the same request sent again in the same operation after an "
                "answer other than ok; failures count the answers by code, domain refusals included."
                + _more(len(shown), len(troubled), "failure counts")
            ),
            Table(
                ["caller", "endpoint", "calls", "timeouts", "retries", "failures by code", "lost requests / replies"],
                [
                    [caller, endpoint, str(s["calls"]), str(s["timeouts"]), str(s["retries"]),
                     _failure_text(s["failures"]) or "-", f"{s['requests_lost']} / {s['replies_lost']}"]
                    for caller, endpoint, s in shown
                ],
            ),
        ]
    consumers = metrics["reliability"]["consumers"]
    struggling = {
        group: c for group, c in consumers.items()
        if c["handling_failures"] or c["redeliveries"] or c["dead_lettered"] or c["dropped"]
    }
    if not struggling:
        delivered = sum(c["deliveries"] for c in consumers.values())
        blocks.append(Paragraph(
            f"Consumers: each of the {delivered} event deliveries was handled at the first attempt; "
            "nothing was redelivered or parked." if delivered else "Consumers: no event was delivered."
        ))
    else:
        blocks.append(Table(
            ["consumer group", "deliveries", "handling failures", "failure rate", "redeliveries",
             "dead-lettered", "dropped"],
            [
                [group, str(c["deliveries"]), str(c["handling_failures"]), _rate(c["failure_rate"]),
                 str(c["redeliveries"]), str(c["dead_lettered"]), str(c["dropped"])]
                for group, c in struggling.items()
            ],
        ))
    return blocks


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seat_cache_blocks(metrics: dict[str, Any]) -> list[Block]:
    cache = metrics.get("seat_cache")
    if cache is None:
        return []
    kind = {
        "ttl": f"listings cached for {cache['ttl']:g} s whatever changes",
        "invalidated": f"listings cached until a committed seat change of their date drops them, or "
                       f"{cache['ttl']:g} s",
        "versioned": "listings cached while the view's version of their date is unchanged",
    }[cache["mode"]]
    served = (f"{_count_text(cache['hits'], 'listing')} served from the cache, {cache['stale_hits']} of them behind "
              f"Concert's view (by up to {cache['most_behind']} seat changes; at most "
              f"{cache['age_max_s']:.1f} s old), showing {cache['shown_taken']} seats free that the view showed "
              "taken" if cache["hits"] else "no listing served from the cache")
    return [
        Heading(3, "Concert's seat cache"),
        Paragraph(f"{kind.capitalize()}: {served}. {cache['refused_holds']} of {cache['hold_attempts']} hold "
                  "attempts were refused because the seat shown was taken (seat-unavailable); the seat check "
                  "before a hold reads the view, so a stale listing costs a buyer a refused hold, never a double "
                  "booking."),
    ]


def _point_storage_blocks(metrics: dict[str, Any]) -> list[Block]:
    storage = metrics["point_storage"]
    if storage["mode"] != "events":
        return []
    return [
        Heading(3, "Point's event-sourced accounts"),
        Paragraph(
            f"Point stored {storage['events']} events and {storage['snapshots']} snapshots, and no balance: "
            f"{storage['reads']} requests derived a balance by replaying {storage['events_replayed']} events "
            f"(at most {storage['max_replayed']} at once), {storage['replay_seconds'] * 1000:,.1f} ms of service "
            f"time in all; Point's database committed {storage['commits']} transactions. `concertsim compare` "
            "with `--set-b design.point_storage=state` puts the same run with a balance row per user beside it."
        ),
    ]


def _series_blocks(metrics: dict[str, Any], result: RunResult, with_figure: bool) -> list[Block]:
    png = service_series_figure.service_series_png(metrics["series"], result) if with_figure else None
    if png is None:
        return []
    width = metrics["series"]["bin_seconds"]
    return [
        Heading(3, "Services and consumers over time"),
        Image(service_series_figure.FILE_NAME, "Services and consumers over time",
              f"Per {width} s of simulated time: each service's p95 server time and each consumer group's "
              "p95 handling time (log scale), and the requests answered other than ok, the failed "
              "handling attempts and each caller's retries (summary.json: metrics.series).", png),
    ]


def service_metrics_blocks(outcome: RunOutcome, *, with_figure: bool = True) -> list[Block]:
    """The service metrics section of the run report (subsections under its "Metrics"), with the
    staleness figure if ``with_figure`` and there is something to draw."""
    metrics = outcome.metrics
    return [
        *_server_time_blocks(metrics),
        *_event_blocks(metrics),
        *broker_delivery_blocks(metrics),
        *_staleness_blocks(outcome, with_figure),
        *_seat_cache_blocks(metrics),
        *_point_storage_blocks(metrics),
        *payment_saga_blocks(metrics),
        *replica_blocks(metrics),
        *point_shift_blocks(metrics),
        *_reliability_blocks(metrics),
        *_series_blocks(metrics, outcome.result, with_figure),
        *_capacity_blocks(outcome, with_figure),
    ]
