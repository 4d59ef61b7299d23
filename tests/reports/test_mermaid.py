"""Mermaid sequence diagrams of a saga: strict syntax, known participants, escaped text, a limit."""

from __future__ import annotations

import re

import pytest

from concertsim.reports.run.mermaid import PARTICIPANTS, mermaid_text, relevant_records, sequence_diagram
from concertsim.reports.run.saga import Saga, saga_of
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from concertsim.sim.infrastructure.trace import TraceRecord
from tests.conftest import small_scenario

ARROW = re.compile(r"^    (\w+)(->>|-->>|-\)|-x|--x)(\w+): (.+)$")
NOTE = re.compile(r"^    Note over (\w+)(?:,(\w+))?: (.+)$")
PARTICIPANT = re.compile(r"^    participant (\w+)$")
ENTITY = re.compile(r"#\d+;")


def assert_valid(diagram: str) -> dict[str, list[str]]:
    """Check ``diagram`` line by line against the subset of mermaid it may use; return its
    participants, arrow texts and note texts."""
    lines = diagram.rstrip("\n").split("\n")
    assert lines[0] == "sequenceDiagram"
    parsed: dict[str, list[str]] = {"participants": [], "arrows": [], "notes": []}
    for line in lines[1:]:
        if m := PARTICIPANT.match(line):
            assert not parsed["arrows"] and not parsed["notes"], "participants come first"
            parsed["participants"].append(m.group(1))
        elif m := ARROW.match(line):
            assert {m.group(1), m.group(3)} <= set(parsed["participants"]), line
            parsed["arrows"].append(m.group(4))
        elif m := NOTE.match(line):
            assert {m.group(1), m.group(2) or m.group(1)} <= set(parsed["participants"]), line
            parsed["notes"].append(m.group(3))
        else:
            raise AssertionError(f"not a line this diagram may contain: {line!r}")
    assert set(parsed["participants"]) <= set(PARTICIPANTS)
    for text in parsed["arrows"] + parsed["notes"]:
        bare = ENTITY.sub("", text)
        assert not re.search(r"[;#<>:]", bare), f"unescaped syntax in {text!r}"
    return parsed


def record(
    seq: int, at: float, record_kind: str, party: str, trace_id: str | None = "op-1", /, **data: object
) -> TraceRecord:
    return TraceRecord(seq, at, record_kind, party, trace_id, dict(data))


def saga(*records: TraceRecord) -> Saga:
    return Saga("res-1", list(records), frozenset({"op-1"}), frozenset())


@pytest.fixture(scope="module")
def partitioned() -> RunResult:
    """Point's replies to Reservation are cut for 30 s and Point's relay crashes once."""
    return run_scenario(
        small_scenario(
            faults=[
                {"at": 5, "kind": "partition", "target": "point->reservation", "duration": 30},
                {"at": 8, "kind": "crash", "target": "relay:point", "duration": 5},
            ]
        )
    )


def reservation_with_lost_reply(result: RunResult) -> str:
    lost = next(r for r in result.trace.records if r.kind == "call.reply_lost")
    op = next(op for op in result.history if op.op_id == lost.trace_id)
    return op.detail["reservation_id"]


def test_a_saga_with_a_lost_reply_draws_a_cross_and_the_fault(partitioned: RunResult) -> None:
    diagram = sequence_diagram(saga_of(partitioned, reservation_with_lost_reply(partitioned)))
    parsed = assert_valid(diagram)
    assert {"client", "gateway", "reservation", "point", "broker"} <= set(parsed["participants"])
    assert "point--xreservation: ok (reply lost)" in diagram
    assert "client->>gateway: POST /api/v1/payments" in diagram
    assert re.search(r"reservation-\)broker: ReservationFailedEvent", diagram)
    assert any(note.startswith("FAULT partition point→reservation") for note in parsed["notes"])
    assert "Note over reservation: point.use timed out" in diagram


def test_every_saga_of_a_run_draws_as_valid_mermaid(partitioned: RunResult) -> None:
    reservations = sorted(
        {op.detail["reservation_id"] for op in partitioned.history if op.detail.get("reservation_id")}
    )
    assert reservations
    for reservation_id in reservations:
        assert_valid(sequence_diagram(saga_of(partitioned, reservation_id)))


def test_beyond_the_limit_routine_steps_go_first_and_a_note_says_how_many(partitioned: RunResult) -> None:
    whole = saga_of(partitioned, reservation_with_lost_reply(partitioned))
    full = assert_valid(sequence_diagram(whole, max_messages=1000))
    assert any("queue.check" in text for text in full["arrows"])
    short = sequence_diagram(whole, max_messages=12)
    parsed = assert_valid(short)
    assert len(parsed["arrows"]) + len(parsed["notes"]) <= 12 + 2
    assert not any("queue.check" in text for text in parsed["arrows"])
    assert re.search(r"Note over client,broker: \d+ routine steps .* omitted", short)
    assert re.search(r"Note over client,broker: \.\.\. \d+ steps before the last omitted\n    Note over", short)


def test_text_from_the_trace_cannot_break_the_diagram() -> None:
    hostile = "pay; Note over client: injected #1 <b>x</b>\nparticipant evil"
    diagram = sequence_diagram(
        saga(
            record(0, 1.0, "call.send", "client", call="c1", to="gateway", endpoint=hostile, key=""),
            record(1, 1.1, "call.serve", "gateway", call="c1", endpoint=hostile, outcome="bad;outcome"),
            record(2, 1.2, "call.return", "client", call="c1", endpoint=hostile, outcome="bad;outcome"),
        )
    )
    parsed = assert_valid(diagram)
    assert parsed["participants"] == ["client", "gateway"]
    assert len(parsed["arrows"]) == 2 and not parsed["notes"]
    assert "pay#59; Note over client#58; injected #35;1 #60;b#62;x#60;/b#62; participant evil" in diagram


def test_mermaid_text_escapes_each_syntax_character_as_an_entity_code() -> None:
    assert mermaid_text("a;b#c:d<e>f&g") == "a#59;b#35;c#58;d#60;e#62;f#38;g"
    assert mermaid_text("line\none") == "line one"
    assert mermaid_text("point->reservation") == "point→reservation"
    assert mermaid_text("") == "-"
    assert len(mermaid_text("x" * 500)) == 80


def test_lost_publishes_and_deliveries_are_crosses_and_republishes_are_marked() -> None:
    diagram = sequence_diagram(
        saga(
            record(
                0,
                1.0,
                "event.raised",
                "reservation",
                event_id="e1",
                type="SeatReservedEvent",
                key="seat-1-1",
                payload={},
            ),
            record(
                1,
                1.1,
                "broker.append",
                "reservation",
                event_id="e1",
                type="SeatReservedEvent",
                key="seat-1-1",
                topic="t",
                partition=0,
                offset=0,
            ),
            record(
                2,
                1.2,
                "broker.append",
                "reservation",
                event_id="e1",
                type="SeatReservedEvent",
                key="seat-1-1",
                topic="t",
                partition=0,
                offset=1,
            ),
            record(3, 1.3, "broker.delivery_lost", "broker", group="concert", event_id="e1"),
            record(
                4,
                1.4,
                "broker.deliver",
                "broker",
                group="concert",
                event_id="e1",
                type="SeatReservedEvent",
                partition=0,
                offset=0,
            ),
            record(
                5,
                1.5,
                "consumer.duplicate_skipped",
                "concert",
                group="concert",
                event_id="e1",
                type="SeatReservedEvent",
            ),
            record(6, 1.6, "publish.dropped", "point", event_id="e2"),
        )
    )
    assert_valid(diagram)
    assert "reservation-)broker: SeatReservedEvent\n" in diagram
    assert "reservation-)broker: SeatReservedEvent again (republished)" in diagram
    assert "broker-xconcert: SeatReservedEvent (delivery lost)" in diagram
    assert "Note over concert: duplicate SeatReservedEvent skipped" in diagram
    assert "point-xbroker: e2 (publish lost)" in diagram


def test_faults_are_notes_over_the_parties_they_strike() -> None:
    diagram = sequence_diagram(
        saga(
            record(0, 1.0, "fault.start", "faults", None, index=0, kind="crash", target="relay:point"),
            record(1, 1.0, "daemon.crash", "relay:point", None, daemons=["relay"]),
            record(2, 2.0, "fault.start", "faults", None, index=1, kind="partition", target="client|gateway"),
            record(3, 3.0, "fault.start", "faults", None, index=2, kind="drop", target="delivery"),
            record(4, 4.0, "fault.end", "faults", None, index=1),
            record(5, 5.0, "daemon.restart", "relay:point", None, daemons=["relay"]),
        )
    )
    parsed = assert_valid(diagram)
    assert "Note over point: FAULT point's outbox relay crashes" in diagram
    assert "Note over client,gateway: FAULT partition client and gateway (both ways) begins" in diagram
    assert "Note over client,broker: FAULT drop delivery begins" in diagram
    assert "Note over client,gateway: partition client and gateway (both ways) lifted" in diagram
    assert "Note over point: point's outbox relay restarted" in diagram
    assert len(parsed["notes"]) == 5


def test_strikes_on_other_sagas_messages_are_left_out() -> None:
    own = record(
        0, 1.0, "call.send", "reservation", call="c1", to="point", endpoint="point.use", key="user-1"
    )
    mine = record(
        1,
        1.0,
        "fault.strike",
        "faults",
        None,
        index=0,
        kind="duplicate",
        channel="request",
        source="reservation",
        destination="point",
        message_type="point.use",
        key="user-1",
        group=None,
    )
    other = record(
        2,
        1.5,
        "fault.strike",
        "faults",
        None,
        index=0,
        kind="duplicate",
        channel="request",
        source="reservation",
        destination="point",
        message_type="point.use",
        key="user-9",
        group=None,
    )
    whole = saga(own, mine, other)
    assert relevant_records(whole) == [own, mine]
    assert sequence_diagram(whole).count("FAULT duplicate struck point.use") == 1


def test_an_empty_saga_is_still_a_valid_diagram() -> None:
    diagram = sequence_diagram(Saga("res-404", [], frozenset(), frozenset()))
    parsed = assert_valid(diagram)
    assert parsed["notes"] == ["no messages recorded for res-404"]
