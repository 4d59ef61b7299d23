"""A trace's reads by kind come from an index built on the first read: they must give what a scan
of the records gives, in trace order, including records added after an earlier read."""

from __future__ import annotations

import copy
import pickle

from concertsim.sim.infrastructure.spilled_trace import SpillingTrace
from concertsim.sim.infrastructure.trace import Trace, TraceRecord

KINDS = ("call.send", "tx.commit", "client.ok", "broker.deliver", "client.fail")


def _fill(trace: Trace, start: int, count: int) -> None:
    for n in range(start, start + count):
        trace.add(float(n), KINDS[(n * 7) % len(KINDS)], "party", None, {"n": n})


def _scanned(trace: Trace, *kinds: str) -> list[int]:
    return [r.seq for r in trace if r.kind in kinds]


def test_reads_by_kind_give_what_a_scan_gives_before_and_after_more_records() -> None:
    for trace in (Trace(), SpillingTrace(spilled=frozenset({"call.send"}))):
        _fill(trace, 0, 40)
        for kinds in [("tx.commit",), ("client.ok", "tx.commit"), ("call.send", "broker.deliver"), ("no.such",)]:
            assert [r.seq for r in trace.of_kind(*kinds)] == _scanned(trace, *kinds)
        _fill(trace, 40, 25)  # added after the index was built: it must catch up
        for kinds in [("tx.commit",), ("client.ok", "tx.commit", "call.send"), KINDS]:
            assert [r.seq for r in trace.of_kind(*kinds)] == _scanned(trace, *kinds)
        assert {kind: [r.seq for r in records] for kind, records in trace.by_kind().items()} == {
            kind: _scanned(trace, kind) for kind in KINDS}
        trace.close()


def test_what_a_read_hands_out_is_the_callers_own() -> None:
    trace = Trace()
    _fill(trace, 0, 20)
    handed = list(trace.of_kind("tx.commit"))
    kept = trace.kept_of_kinds(["tx.commit"])
    kept.clear()
    trace.by_kind()["tx.commit"].clear()  # type: ignore[attr-defined]
    assert [r.seq for r in trace.of_kind("tx.commit")] == [r.seq for r in handed] == _scanned(trace, "tx.commit")


def test_a_trace_edited_other_than_by_adding_is_indexed_afresh() -> None:
    trace = Trace()
    _fill(trace, 0, 30)
    list(trace.of_kind("tx.commit"))
    commit = next(r for r in trace if r.kind == "tx.commit")
    planted = TraceRecord(0, commit.at, "tx.commit", "party", None, {"planted": True})
    trace.records.insert(trace.records.index(commit) + 1, planted)
    for seq, record in enumerate(trace.records):
        record.seq = seq
    assert [r.seq for r in trace.of_kind("tx.commit")] == _scanned(trace, "tx.commit")
    del trace.records[-3:]
    assert [r.seq for r in trace.of_kind("tx.commit", "call.send")] == _scanned(trace, "tx.commit", "call.send")


def test_a_copy_of_a_read_trace_builds_its_own_index() -> None:
    trace = Trace()
    _fill(trace, 0, 30)
    list(trace.of_kind("client.ok"))
    copied = copy.deepcopy(trace)
    next(r for r in copied if r.kind == "client.ok").kind = "client.fail"  # edited before the copy is read
    assert [r.seq for r in copied.of_kind("client.ok")] == _scanned(copied, "client.ok")
    assert [r.seq for r in copied.of_kind("client.fail")] == _scanned(copied, "client.fail")
    assert pickle.loads(pickle.dumps(trace))._kinds == {}
