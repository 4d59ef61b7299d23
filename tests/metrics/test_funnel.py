"""The funnel says where the users without a ticket were lost."""

from __future__ import annotations

from concertsim.metrics.funnel import LOSS_REASONS, funnel_losses
from tests.metrics.helpers import small_run


def test_every_user_without_a_ticket_is_lost_somewhere_named() -> None:
    outcome = small_run("concerts.opens_at=40", "workload.opening_patience=15")
    losses = outcome.metrics["funnel_losses"]
    funnel = outcome.metrics["funnel"]
    assert tuple(losses)[: len(LOSS_REASONS)] == LOSS_REASONS
    assert sum(losses.values()) == funnel["arrived"] - funnel["confirmed"]
    assert losses["left-before-opening"] > 0 and losses["unfinished"] == 0
    assert losses == funnel_losses(outcome.result)


def test_the_run_report_names_where_users_were_lost() -> None:
    from concertsim.reports.run.report import _funnel_text

    text = _funnel_text({"arrived": 5, "admitted": 5, "held": 2, "paid": 1, "confirmed": 1, "abandoned": 1,
                         "unsold_seats": 3}, {"vanished": 2, "sold-out": 0, "left-before-opening": 2})
    assert text.endswith("; users lost: 2 vanished, 2 left before opening")
