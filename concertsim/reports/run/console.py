"""The terminal summary of a run (rich tables). Text that comes from the user (the scenario's
name, paths, violation messages) is escaped, so square brackets print as themselves instead of
being read as rich markup."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from concertsim.reports.document.verdict_words import verdict_counts

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["print_run_summary", "verdict_line", "verdict_table"]


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def verdict_table(outcome: RunOutcome) -> Table:
    table = Table(title="Invariants", title_justify="left")
    table.add_column("invariant", no_wrap=True)  # an id the reader may search for: whole, never cut
    table.add_column("kind")
    table.add_column("verdict")
    table.add_column("first violation, or why not applicable", overflow="fold")
    for verdict in outcome.verdicts:
        if verdict.not_applicable is not None:
            mark, note = "[dim]n/a[/dim]", f"[dim]{escape(verdict.not_applicable)}[/dim]"
        elif verdict.violated:
            mark, note = f"[red]violated ×{len(verdict.violations)}[/red]", escape(verdict.violations[0].message)
        else:
            mark, note = "[green]holds[/green]", ""
        table.add_row(verdict.invariant.id, verdict.invariant.kind, mark, note)
    return table


def verdict_line(outcome: RunOutcome) -> str:
    """The run's verdict in one line of rich markup: ``18 invariants hold, 3 not applicable (...)``
    in green, or the violated invariants in red, then the rest counted."""
    counts = escape(verdict_counts(outcome.verdicts))
    if outcome.holds:
        return f"[green]{counts}[/green]"
    return f"[red]violated: {', '.join(outcome.violated)}[/red] ({counts})"


def print_run_summary(console: Console, outcome: RunOutcome, out: Path) -> None:
    result, m = outcome.result, outcome.metrics
    design = result.scenario.design
    console.print(
        f"[bold]{escape(result.scenario.name)}[/bold]  seed {result.seed}  "
        f"payment_flow={design.payment_flow} publish={design.publish}  "
        f"faults={len(result.scenario.faults)}"
    )
    counts = Table(title="What happened", title_justify="left", show_header=False)
    counts.add_column("what")
    counts.add_column("figures")
    r, p, e, c, t = m["reservations"], m["points"], m["events"], m["client"], m["time"]
    counts.add_row("users", f"{m['users']}")
    counts.add_row(
        "reservations",
        f"held {r['held']} · confirmed {r['confirmed']} · expired {r['expired']} · failed {r['failed']}"
        + (f" · still held {r['still_held']}" if r["still_held"] else ""),
    )
    counts.add_row(
        "points",
        f"charged {p['charged']:,} · used {p['used']:,} ({p['uses']}) · refunded {p['refunded']:,} ({p['refunds']})",
    )
    counts.add_row(
        "events",
        f"raised {e['raised']} · published {e['published']} · delivered {e['delivered']} · "
        f"redelivered {e['redelivered']} · duplicates skipped {e['duplicates_skipped']} · "
        f"dead-lettered {e['dead_lettered']} · dropped {e['dropped']}",
    )
    counts.add_row("client operations", f"{c['operations']} · ok {c['ok']} · fail {c['fail']} · unknown {c['unknown']}")
    convergence = t["time_to_convergence"]
    counts.add_row(
        "time",
        f"simulated {t['simulated_seconds']:,.1f}s (heal at {t['heal_at']:,.0f}s, "
        + ("[red]never converged[/red]" if t["settled_at"] is None
           else f"quiescent at {t['settled_at']:,.1f}s; no fault to recover from" if t.get("faults_ended_at") is None
           else f"converged {convergence:,.1f}s after the last fault ended")
        + f") · wall {t['wall_seconds']:.2f}s",
    )
    console.print(counts)

    latency = Table(title="Latency per endpoint (client-observed, ms)", title_justify="left")
    for column in ("endpoint", "count", "p50", "p95", "p99", "max"):
        latency.add_column(column, justify="right" if column != "endpoint" else "left")
    for route, row in m["latency"].items():
        latency.add_row(route, str(row["count"]), _ms(row["p50_ms"]), _ms(row["p95_ms"]),
                        _ms(row["p99_ms"]), _ms(row["max_ms"]))
    console.print(latency)
    console.print(verdict_table(outcome))
    verdict = verdict_line(outcome)
    console.print(f"{verdict}  trace sha256 {result.trace_sha256[:16]}…  written to {escape(str(out))}/")
