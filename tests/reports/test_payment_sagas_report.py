"""``metrics.payment_sagas`` and the run report's section on orchestrated payments."""

from __future__ import annotations

from concertsim import api
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.run.payment_sagas import payment_saga_blocks
from tests.conftest import small_scenario


def test_orchestrated_sagas_are_counted_by_how_they_ended() -> None:
    outcome = api.run(small_scenario(
        "design.payment_flow=orchestration",
        'faults=[{"at": 0, "kind": "drop", "target": "reply", "duration": 0, "match": {"message_type": "point.use"}}]',
    ))
    sagas = outcome.metrics["payment_sagas"]
    assert sagas["sagas"] == sum(sagas["by_state"].values()) > 0
    assert sagas["by_state"]["COMPENSATED"] > 0, "every reply of point.use is lost: each payment compensates"
    assert sagas["refund_commands"] >= sagas["by_state"]["COMPENSATED"]
    text = to_markdown(payment_saga_blocks(outcome.metrics))
    assert "### Orchestrated payment sagas" in text
    assert f"| COMPENSATED | {sagas['by_state']['COMPENSATED']} |" in text
    assert "| FAILED |" not in text, "a state no saga ended in is left out of the table"


def test_other_flows_have_no_saga_section() -> None:
    outcome = api.run(small_scenario())
    assert outcome.metrics["payment_sagas"] is None
    assert payment_saga_blocks(outcome.metrics) == []
