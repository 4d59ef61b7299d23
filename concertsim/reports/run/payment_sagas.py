"""The run report's section on orchestrated payments (``design.payment_flow: orchestration``): how
the persisted payment sagas ended. Nothing is shown for the other flows."""

from __future__ import annotations

from typing import Any

from concertsim.reports.document.blocks import Block, Heading, Paragraph, Table

__all__ = ["payment_saga_blocks"]


def payment_saga_blocks(metrics: dict[str, Any]) -> list[Block]:
    sagas = metrics["payment_sagas"]
    if sagas is None:
        return []
    rows = [[state, f"{count:,}"] for state, count in sagas["by_state"].items() if count]
    return [
        Heading(3, "Orchestrated payment sagas"),
        Paragraph(
            f"{sagas['sagas']:,} payments began a saga that Reservation's orchestrator persisted and drove; the "
            f"longest took {sagas['max_steps']} steps, and the orchestrator commanded {sagas['refund_commands']:,} "
            "refunds (point.refund, retries included). A saga left unfinished would keep the run from settling "
            "(sagas-terminate); one whose driver died in a crash is adopted by the recovery job."
        ),
        Table(["ended as", "sagas"], rows),
    ]
