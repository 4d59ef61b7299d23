"""The built-in scenario library: every scenario loads, is documented, and shows what its comment
says it shows when run."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

import pytest
from typer.testing import CliRunner

from concertsim.api import RunOutcome, run
from concertsim.cli import app
from concertsim.models import points
from concertsim.scenarios.loader import builtin_names, builtin_path, load_builtin
from concertsim.scenarios.schema import INVARIANT_IDS
from concertsim.sim.hosting.shift_routing import ShiftRouting

LIBRARY = {
    "ticket-opening", "small-opening", "steady-state", "point-partition", "broker-outage",
    "relay-crashes", "duplicate-storm", "hold-expiry-race", "dual-write", "big-flash-crowd", "seat-cache", "rolling-upgrade", "event-sourced-point",
    "rabbitmq-broker",
    "replicas",
    "point-shift",
    "orchestrated-payments",
}
# The anti-pattern demo: without the outbox a broker outage loses events, and with them the
# projections built from those events. Nothing else may break.
DUAL_WRITE_BREAKS = {"no-lost-events", "seat-view-converges", "ranking-converges", "data-platform-exactly-once"}


@cache
def outcome(name: str) -> RunOutcome:
    """One run per scenario, shared by every test of this file (big-flash-crowd, the slowest, takes
    about 3 s)."""
    return run(name)


def header(name: str) -> list[str]:
    lines = builtin_path(name).read_text(encoding="utf-8").splitlines()
    comment = []
    for line in lines:
        if not line.startswith("#"):
            break
        comment.append(line.removeprefix("#").strip())
    return comment


# --- the library as data ---------------------------------------------------------------------------


def test_the_library_has_the_documented_scenarios() -> None:
    assert LIBRARY <= set(builtin_names())


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_loads_validates_and_is_named_after_its_file(name: str) -> None:
    scenario = load_builtin(name)
    assert scenario.name == name
    assert scenario.description and "\n" not in scenario.description
    assert len(scenario.description) <= 160, "the description is one line of `concertsim scenarios`"


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_opens_with_a_comment_naming_the_seed_section(name: str) -> None:
    comment = header(name)
    assert len(comment) >= 3, "each scenario file opens with a comment block saying what it shows"
    assert re.search(r"\bseed \d", " ".join(comment)), "the comment names the seed section it exercises"


@pytest.mark.parametrize("name", sorted(LIBRARY - {"ticket-opening"}))
def test_builtin_comment_says_what_to_expect_of_the_verdicts(name: str) -> None:
    text = " ".join(header(name))
    assert "Expect" in text
    if name == "dual-write":
        assert "VIOLATION" in text and "exit code 1" in text
    else:
        assert "every invariant to hold" in text


def test_scenarios_command_lists_every_builtin_with_its_description() -> None:
    result = CliRunner().invoke(app, ["scenarios"])
    assert result.exit_code == 0
    listed = " ".join(result.output.split())
    for name in builtin_names():
        assert name in listed
        assert " ".join(load_builtin(name).description.split()) in listed


# --- the verdicts the comments promise ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(builtin_names()) - {"dual-write"}))
def test_builtin_keeps_every_promise(name: str) -> None:
    result = outcome(name)
    assert [v.invariant.id for v in result.verdicts] == list(INVARIANT_IDS)
    assert result.violated == [], [
        (v.invariant.id, v.violations[0].message) for v in result.verdicts if v.violated
    ]
    assert result.result.phases.settled_at is not None


def test_dual_write_loses_events_and_the_projections_built_from_them() -> None:
    result = outcome("dual-write")
    assert set(result.violated) == DUAL_WRITE_BREAKS
    assert result.metrics["events"]["dropped"] > 0
    assert result.metrics["events"]["published"] < result.metrics["events"]["raised"]


# --- each fault scenario reaches the situation it is about ----------------------------------------


def test_steady_state_has_no_failed_payments_and_sells_abandoned_seats_again() -> None:
    metrics = outcome("steady-state").metrics
    seats = 3 * 50
    assert metrics["reservations"]["held"] > seats
    assert metrics["reservations"]["failed"] == 0 and metrics["points"]["refunds"] == 0
    assert metrics["faults"]["windows"] == 0


def test_point_partition_fails_ambiguous_payments_and_refunds_them() -> None:
    metrics = outcome("point-partition").metrics
    assert load_builtin("point-partition").design.payment_flow == "sync"
    assert metrics["points"]["refunds"] > 0
    assert metrics["points"]["refunds"] == metrics["reservations"]["failed"]
    assert metrics["points"]["uses"] == metrics["reservations"]["confirmed"] + metrics["points"]["refunds"]


def test_point_shift_loses_replication_and_payment_replies_and_the_stores_still_agree() -> None:
    result = outcome("point-shift").result
    lost = [r for r in result.trace.of_kind("call.request_lost") if r.party == "point"]  # the monolith's feed
    assert lost, "replication requests were lost"
    refunded = [u for u in result.table("point", points.USES).values() if u.refunded_at is not None]
    assert refunded and all(u.user_id in ShiftRouting(25, result.scenario.workload.users).shifted for u in refunded)  # only the shifted users' payments cross a network
    assert result.table("point_old", points.LEDGER) == result.table("point_new", points.LEDGER)


def test_broker_outage_holds_events_in_the_outboxes_and_delays_the_projections() -> None:
    result = outcome("broker-outage").result
    (window,) = result.fault_windows
    during = [s.outbox_backlog for s in result.samples if window["start"] < s.at < window["end"]]
    after = [s.outbox_backlog for s in result.samples if window["end"] + 5 <= s.at <= window["end"] + 10]
    # Drained: what is left is fresh traffic waiting for the relay's next poll, not the outage's.
    assert max(during) > 100 and min(after) == 0 and max(after) <= 2
    raised = {r.data["event_id"]: r.at for r in result.trace.of_kind("event.raised")}
    late = [
        r.at - raised[r.data["event_id"]]
        for r in result.trace.of_kind("consumer.handled")
        if r.data["group"] == "concert" and window["start"] < raised[r.data["event_id"]] < window["end"]
    ]
    assert late and max(late) > 20, "Concert's seat view lags while the broker is down"
    events = outcome("broker-outage").metrics["events"]
    assert events["published"] == events["raised"] and events["dropped"] == 0


def test_relay_crashes_republish_and_inboxes_skip_the_copies() -> None:
    result = outcome("relay-crashes")
    events = result.metrics["events"]
    assert events["published"] > events["raised"]
    assert events["duplicates_skipped"] > 0
    crashed = {r.party for r in result.result.trace.of_kind("daemon.crash")}
    assert crashed == {"relay:reservation", "relay:point"}
    assert not list(result.result.trace.of_kind("broker.publish_unacked")), "the copies come from the crashes"


def test_duplicate_storm_is_absorbed_by_inboxes_and_idempotency_keys() -> None:
    result = outcome("duplicate-storm")
    metrics = result.metrics
    assert metrics["events"]["duplicates_skipped"] > 100
    assert metrics["points"]["uses"] == metrics["reservations"]["confirmed"]
    served = Counter(r.data["endpoint"] for r in result.result.trace.of_kind("call.serve"))
    assert served["point.use"] > metrics["points"]["uses"], "point.use requests really were duplicated"


def test_hold_expiry_race_refunds_payments_that_lost_the_race() -> None:
    metrics = outcome("hold-expiry-race").metrics
    assert metrics["points"]["refunds"] > 0
    assert metrics["reservations"]["expired"] > metrics["reservations"]["confirmed"] / 2


def test_big_flash_crowd_queues_requests_behind_small_worker_pools() -> None:
    metrics = outcome("big-flash-crowd").metrics
    assert metrics["reservations"]["held"] >= 5 * 100  # every seat, and again once expired holds release it
    assert metrics["users"] == 3000
    assert metrics["latency"]["POST /api/v1/queue/tokens"]["p95_ms"] > 500, "requests wait for a worker"


def test_a_description_says_which_settings_the_overrides_changed() -> None:
    written = load_builtin("small-opening").description
    assert written.endswith(".") and "--set" not in written
    changed = load_builtin("small-opening", ["workload.users=3000", "concerts.dates=2", "workload.users=3001"]).description
    assert changed == written.removesuffix(".") + " (as written, before --set workload.users, concerts.dates)."
    assert load_builtin("small-opening", ["name=mine"]).description == written, "a new name changes no setting"
    assert load_builtin("small-opening", ["workload.users=30", "description=my own"]).description == "my own"
