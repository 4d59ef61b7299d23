"""A trace record's line is the generic JSON encoder's output byte for byte (keys sorted, no
spaces, ASCII), whatever the record holds: the run's hash is defined by that encoding, and the
written-out fast path must not drift from it."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from concertsim.sim.infrastructure.trace import Trace, TraceRecord, record_to_json

GENERIC = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)

AWKWARD = [
    TraceRecord(0, 0, "call.send", "gateway", None, {}),
    TraceRecord(1, 0.1 + 0.2, "tx.commit", "point", "op-1", {"z": 1, "a": [1.5, None, True], "m": {"b": 2, "a": "x"}}),
    TraceRecord(2, 1e-7, "fault.start", "relay:point", "op-2", {"kind": "drop", "note": 'quote " and \\ and \n'}),
    TraceRecord(3, 12.0, "client.ok", "client", "op-é", {"name": "콘서트", "tuple": (1, 2)}),
    TraceRecord(4, 3, "odd", "party ünïcode", "", {"not_json": Decimal("1.5"), "big": 2**70, "neg": -0.0}),
    TraceRecord(5, math.inf, "odd", "x", None, {"nan": math.nan}),
]


@pytest.mark.parametrize("record", AWKWARD, ids=lambda r: r.kind + str(r.seq))
def test_a_record_line_is_the_generic_encoding(record: TraceRecord) -> None:
    assert record_to_json(record) == GENERIC.encode(record.to_json())


def test_the_hash_is_that_of_the_lines_joined_by_newlines() -> None:
    import hashlib

    trace = Trace()
    for record in AWKWARD * 3000:  # more than one batch of hashed lines
        trace.add(record.at, record.kind, record.party, record.trace_id, record.data)
    expected = hashlib.sha256("".join(GENERIC.encode(r.to_json()) + "\n" for r in trace).encode()).hexdigest()
    assert trace.sha256() == expected


def test_without_the_c_encoder_a_line_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from concertsim.sim.infrastructure import trace

    monkeypatch.setattr(trace, "_DATA_ENCODER", None)
    assert [record_to_json(r) for r in AWKWARD] == [GENERIC.encode(r.to_json()) for r in AWKWARD]
