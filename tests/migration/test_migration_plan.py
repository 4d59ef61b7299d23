"""Point's migration in motion (``migration:``): the plan as validated data, one run carrying it
(copy, verify, shift, cutover, rollback), the invariants of the move, the coverage probes of its
dangerous moments, each safeguard broken by a targeted run without it, and ``migrate --plan``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from concertsim.ablation import SAFEGUARDS, ablated
from concertsim.checks import check_run
from concertsim.checks.probes import probe_counts
from concertsim.metrics import compute_metrics
from concertsim.scenarios.loader import ScenarioError
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.cli.invoking import cli, flat, refused
from tests.conftest import small_scenario

MIGRATION_CHECKS = (
    "migration-no-lost-write", "migration-no-double-spend", "migration-reads-monotonic", "migration-one-owner",
    "migration-rollback-lossless",
)
RAMP = [{"at": 0, "action": "copy"}, {"at": 10, "action": "shift", "duration": 20}, {"at": 35, "action": "cutover"}]
VERIFIED = [{"at": 0, "action": "copy"}, {"at": 8, "action": "verify"}, {"at": 10, "action": "shift", "duration": 20},
            {"at": 32, "action": "verify"}, {"at": 35, "action": "cutover"}]
EARLY_RAMP = [{"at": 0, "action": "copy"}, {"at": 3, "action": "shift", "duration": 10}, {"at": 35, "action": "cutover"}]
BIG_BANG = [{"at": 0, "action": "copy"}, {"at": 5, "action": "cutover"}]
ROLLED_BACK = [{"at": 0, "action": "copy"}, {"at": 2, "action": "shift", "duration": 5}, {"at": 12, "action": "rollback"}]


def copy_lost(at: float, duration: float) -> list[dict[str, Any]]:
    """Every request of the copy (``point.replicate``) lost from ``at`` for ``duration`` s."""
    return [{"at": at, "kind": "drop", "target": "request", "duration": duration,
             "match": {"message_type": "point.replicate"}}]


CHARGE_REPLIES_LATE = [{"at": 0, "kind": "delay", "target": "reply", "duration": 14, "params": {"seconds": 2.0},
                        "match": {"message_type": "point.charge"}}]
CHARGE_REPLIES_LOST = [{"at": 0, "kind": "drop", "target": "reply", "duration": 14,
                        "match": {"message_type": "point.charge"}}]


def migrated(steps: list[dict[str, Any]], faults: list[dict[str, Any]], **plan: Any) -> RunResult:
    return run_scenario(small_scenario("design.topology=monolith", migration={"steps": steps, **plan},
                                       faults=faults))


def broken(result: RunResult) -> set[str]:
    return {v.invariant.id for v in check_run(result) if v.violations}


def statuses(result: RunResult) -> dict[str, str]:
    return {v.invariant.id: v.status for v in check_run(result) if v.invariant.id in MIGRATION_CHECKS}


def outcomes(result: RunResult) -> list[tuple[str, str]]:
    return [(r.data["action"], r.data["outcome"]) for r in result.trace.of_kind("migration.step")]


# --- the plan as data -------------------------------------------------------------------------------


@pytest.mark.parametrize(("plan", "reason"), [
    ({"steps": [{"at": 0, "action": "shift", "duration": 5}]}, "a plan starts with copy"),
    ({"steps": [{"at": 0, "action": "copy"}, {"at": 5, "action": "shift"}]}, "give duration > 0 seconds"),
    ({"steps": [{"at": 0, "action": "copy"}, {"at": 5, "action": "verify", "duration": 3}]}, "a verify step takes none"),
    ({"steps": [{"at": 5, "action": "copy"}, {"at": 1, "action": "verify"}]}, "list the steps in time order"),
    ({"steps": [{"at": 0, "action": "copy"}, {"at": 5, "action": "shift", "duration": 20},
                {"at": 10, "action": "cutover"}]}, "is before the shift ends at 25 s"),
    ({"steps": [{"at": 0, "action": "copy"}, {"at": 5, "action": "rollback"}, {"at": 6, "action": "verify"}]},
     "nothing follows a rollback"),
    ({"steps": [{"at": 0, "action": "copy"}, {"at": 50, "action": "shift", "duration": 20}]},
     "after the workload ends at 60 s"),
    ({"capture": "triple_write"}, "migration.capture"),
])
def test_a_bad_plan_is_refused_naming_the_field_and_the_reason(plan: dict[str, Any], reason: str) -> None:
    with pytest.raises(ScenarioError) as refusal:
        small_scenario("design.topology=monolith", migration=plan)
    assert reason in flat(str(refusal.value))


def test_a_plan_needs_the_monolith_and_leaves_no_room_for_a_fixed_shift() -> None:
    with pytest.raises(ScenarioError, match="needs design.topology monolith"):
        small_scenario(migration={})
    with pytest.raises(ScenarioError, match="give one"):
        small_scenario("design.topology=monolith", "design.point_shift=20", migration={})


def test_a_plan_without_steps_spreads_the_default_steps_over_the_workload() -> None:
    scenario = small_scenario("design.topology=monolith", migration={})
    assert scenario.migration is not None
    steps = scenario.migration.steps_for(scenario.workload.duration)
    assert [(s.at, s.action, s.duration) for s in steps] == [
        (0.0, "copy", 0.0), (9.0, "verify", 0.0), (12.0, "shift", 24.0), (39.0, "verify", 0.0), (42.0, "cutover", 0.0)]


# --- one run carries the plan -----------------------------------------------------------------------


def test_the_ramp_moves_the_users_bucket_by_bucket_while_the_run_goes_on() -> None:
    result = migrated(RAMP, [])
    moves = [(r.at, r.data["user_id"]) for r in result.trace.of_kind("migration.moved")]
    assert len(moves) == 40 and {user for _, user in moves} == set(range(1, 41))
    times = sorted({at for at, _ in moves})
    assert times[0] >= 10 and times[-1] <= 30 and len(times) >= 15  # spread over the ramp, not at once
    assert outcomes(result) == [("copy", "done"), ("shift", "started"), ("shift", "done"), ("cutover", "done")]
    moved_at = {user: at for at, user in moves}
    served = [r for r in result.trace.of_kind("migration.read") if r.party == "point_new"]
    assert served and all(r.at >= moved_at[r.data["user_id"]] for r in served)  # the new store only after the move
    assert statuses(result) == {"migration-no-lost-write": "holds", "migration-no-double-spend": "holds",
                                "migration-reads-monotonic": "holds", "migration-one-owner": "holds",
                                "migration-rollback-lossless": "not_applicable"}
    assert not broken(result)


def test_a_shift_held_back_by_a_verify_still_ramps_over_its_duration() -> None:
    """The verify before the shift waits for the copy, lost from 2 s to 12 s; the shift then starts
    late and ramps from when it starts, instead of moving at once the users its planned time passed."""
    held = [{"at": 0, "action": "copy"}, {"at": 5, "action": "verify"}, {"at": 5, "action": "shift", "duration": 10},
            {"at": 35, "action": "cutover"}]
    result = migrated(held, copy_lost(2, 10))
    started = next(r.at for r in result.trace.of_kind("migration.step") if r.data["action"] == "shift")
    assert started >= 12
    moves = [r.at for r in result.trace.of_kind("migration.moved")]
    assert len(moves) == 40 and moves.count(moves[0]) <= 4  # a bucket a tick, not most users at once
    assert moves[-1] - started >= 9


def test_the_timeline_is_in_the_metrics_and_absent_without_a_plan() -> None:
    result = migrated(RAMP, [])
    timeline = compute_metrics(result)["migration"]
    assert [step["action"] for step in timeline["steps"]] == ["copy", "shift", "shift", "cutover"]
    assert timeline["moved"][-1][1] == 40 and timeline["moved"][0][0] >= 10
    json.dumps(timeline, allow_nan=False)
    assert compute_metrics(run_scenario(small_scenario()))["migration"] is None


def test_the_timeline_follows_the_copys_lag_behind_the_commit_log_from_the_trace() -> None:
    """Each commit captured from a store's log is recorded, so the lag (captured, not yet applied
    by the other store) can be read: it grows while the copy's requests are lost and drains after."""
    result = migrated(RAMP, copy_lost(2, 10))
    lag = compute_metrics(result)["migration"]["lag"]["point->point_new"]
    assert max(behind for at, behind in lag if 2 <= at < 12) >= 3  # commits pile up while the copy is lost
    assert lag[-1][1] == 0
    captured = [r for r in result.trace.of_kind("point.captured") if r.party == "point"]
    assert [r.data["through"] for r in captured] == list(range(1, len(captured) + 1))
    assert compute_metrics(migrated(RAMP, copy_lost(2, 10)))["migration"]["lag"] == {
        direction: [list(point) for point in series] for direction, series in
        compute_metrics(result)["migration"]["lag"].items()}  # read from the trace alone: the same each run


def test_the_timeline_splits_client_latency_and_errors_by_the_store_that_served_them() -> None:
    result = migrated(EARLY_RAMP, copy_lost(2, 10) + CHARGE_REPLIES_LOST, catch_up=False)
    timeline = compute_metrics(result)["migration"]
    operations, width = timeline["operations"], timeline["bin_seconds"]
    assert sum(sum(series["ops"]) for series in operations.values()) == len(result.history)
    errors = sum(1 for op in result.history if op.outcome in ("fail", "unknown"))
    assert errors and sum(sum(s["failed"]) + sum(s["unknown"]) + sum(s["refused"]) for s in operations.values()) == errors
    new = operations["point_new"]
    first_new = next(index for index, ops in enumerate(new["ops"]) if ops)
    assert first_new * width <= min(at for at, _ in timeline["moved"])  # by when they began, retried after the move
    assert any(value is not None for value in new["p95_ms"]) and any(operations["point"]["ops"])
    calls = timeline["calls"]
    assert sum(calls["point_new"]) and len(calls["point"]) == len(new["ops"])
    json.dumps(timeline, allow_nan=False)


def test_the_timeline_figure_draws_lag_latency_and_errors_and_leaves_out_what_has_nothing_to_show() -> None:
    from concertsim.metrics.migration_timeline import migration_timeline
    from concertsim.metrics.records import records_by_kind
    from concertsim.reports.migration.timeline_figure import migration_timeline_figure

    def panels(result: RunResult) -> list[str]:
        timeline = migration_timeline(result, records_by_kind(result.trace))
        return [axes.get_ylabel().replace("\n", " ") for axes in migration_timeline_figure(result, timeline).axes]

    troubled = panels(migrated(EARLY_RAMP, copy_lost(2, 10) + CHARGE_REPLIES_LOST, catch_up=False))
    assert troubled == ["faults", "plan", "share (%)", "copy lag (commits)", "p95 latency (ms)",
                        "errors (operations)"]
    calm = panels(migrated(RAMP, []))
    assert calm == ["plan", "share (%)", "copy lag (commits)", "p95 latency (ms)"]
    assert panels(migrated(BIG_BANG, []))[-1] == "fences"  # the fence refused the old store's writes


def test_the_timeline_counts_domain_refusals_apart_from_errors_and_draws_them_in_a_panel_of_their_own() -> None:
    """A hold refused because its seat was taken (``seat-unavailable``) is the design answering as it
    should: it is counted and drawn as a domain refusal, never as an error, and a run whose only
    refusals are such has no errors panel."""
    from concertsim.metrics.migration_timeline import migration_timeline
    from concertsim.metrics.records import records_by_kind
    from concertsim.models.errors import DOMAIN_CODES
    from concertsim.reports.migration.timeline_figure import migration_timeline_figure

    crowded = run_scenario(small_scenario("design.topology=monolith", "workload.users=80",
                                          migration={"steps": BIG_BANG}))
    refused = [op for op in crowded.history if op.outcome == "fail" and op.error in DOMAIN_CODES]
    assert refused and {op.error for op in refused} == {"seat-unavailable"}
    assert all(op.outcome == "ok" or op in refused for op in crowded.history)  # nothing else went wrong
    timeline = migration_timeline(crowded, records_by_kind(crowded.trace))
    operations = timeline["operations"].values()
    assert sum(sum(series["refused"]) for series in operations) == len(refused)
    assert sum(sum(series["failed"]) + sum(series["unknown"]) for series in operations) == 0
    figure = migration_timeline_figure(crowded, timeline)
    labels = [axes.get_ylabel().replace("\n", " ") for axes in figure.axes]
    assert "refusals (operations)" in labels and "errors (operations)" not in labels
    legend = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    assert any(text.startswith("refused by a business rule") for text in legend)
    assert not any(text.startswith("error") for text in legend)


def test_without_a_plan_the_migration_invariants_are_not_applicable() -> None:
    verdicts = {v.invariant.id: v for v in check_run(run_scenario(small_scenario()))}
    for name in MIGRATION_CHECKS:
        assert verdicts[name].status == "not_applicable"
        assert verdicts[name].not_applicable == "no migration plan runs (no migration:)"


# --- each safeguard, and a targeted run without it ---------------------------------------------------


def test_the_copy_resends_until_acknowledged_and_loses_a_write_without_acks() -> None:
    assert not broken(migrated(RAMP, copy_lost(2, 10)))
    assert "migration-no-lost-write" in broken(migrated(RAMP, copy_lost(2, 10), acks=False))


def test_dual_writes_lose_a_write_that_change_data_capture_keeps() -> None:
    assert "migration-no-lost-write" in broken(migrated(RAMP, copy_lost(2, 10), capture="dual_write"))


def test_a_failed_verify_rolls_back_before_the_lost_writes_matter_and_without_verify_they_are_lost() -> None:
    verified = migrated(VERIFIED, copy_lost(2, 4), acks=False)
    assert outcomes(verified)[1:3] == [("verify", "failed"), ("rollback", "done")]
    verify = next(r for r in verified.trace.of_kind("migration.step") if r.data["action"] == "verify")
    assert verify.data["mismatches"] > 0
    assert not broken(verified)
    unverified = migrated(VERIFIED, copy_lost(2, 4), acks=False, verify=False)
    assert ("verify", "skipped") in outcomes(unverified)
    assert "migration-no-lost-write" in broken(unverified)


def test_moving_users_while_the_copy_lags_applies_a_retried_charge_in_both_stores() -> None:
    faults = copy_lost(2, 10) + CHARGE_REPLIES_LOST
    waited = migrated(EARLY_RAMP, faults)
    assert not broken(waited) and probe_counts(waited)["moved-while-copy-lagged"] == 0
    hurried = migrated(EARLY_RAMP, faults, catch_up=False)
    assert probe_counts(hurried)["moved-while-copy-lagged"] > 0
    assert {"migration-no-double-spend", "charge-exactly-once"} <= broken(hurried)


def test_a_user_moved_while_the_copy_lags_is_answered_from_an_older_account_than_they_saw() -> None:
    faults = copy_lost(2, 10) + CHARGE_REPLIES_LATE
    assert not broken(migrated(EARLY_RAMP, faults))
    hurried = migrated(EARLY_RAMP, faults, catch_up=False)
    assert "migration-reads-monotonic" in broken(hurried)
    violation = next(v for v in check_run(hurried) if v.invariant.id == "migration-reads-monotonic").violations[0]
    assert violation.evidence["stores"] == ["point", "point_new"] and violation.evidence["version"] < violation.evidence["seen"]


def test_the_fence_refuses_writes_routed_to_the_old_store_after_the_cutover() -> None:
    fenced = migrated(BIG_BANG, [])
    assert not broken(fenced) and probe_counts(fenced)["write-to-old-store-after-cutover"] == 0
    refusals = [r.data["reason"] for r in fenced.trace.of_kind("migration.refused") if r.party == "point"]
    assert refusals and set(refusals) == {"point is fenced for the migration"}  # the whole store, from the cutover
    open_door = migrated(BIG_BANG, [], fence=False)
    assert probe_counts(open_door)["write-to-old-store-after-cutover"] > 0
    assert {"migration-one-owner", "migration-no-lost-write"} <= broken(open_door)


def test_a_cutover_whose_copy_cannot_catch_up_in_time_is_cancelled_and_the_old_store_writes_again() -> None:
    """The copy's requests are lost until the heal: the cutover waits verify_timeout for it, then
    cancels the switch (Vitess's SwitchWrites on a timeout) instead of handing every user to a new
    store without their writes."""
    stalled = migrated(BIG_BANG, copy_lost(4, 0), verify_timeout=10)
    cutover = next(r for r in stalled.trace.of_kind("migration.step") if r.data["action"] == "cutover")
    assert cutover.data["outcome"] == "failed" and cutover.at == pytest.approx(15.0)
    assert not list(stalled.trace.of_kind("migration.moved"))
    assert not any(r.at > 16 for r in stalled.trace.of_kind("migration.refused"))  # writable again
    assert not broken(stalled)


def test_the_fence_refuses_a_moved_users_writes_that_stale_routers_still_send_to_the_old_store() -> None:
    ramp = [{"at": 0, "action": "copy"}, {"at": 2, "action": "shift", "duration": 6}, {"at": 35, "action": "cutover"}]
    fenced = migrated(ramp, [], propagation=3)
    assert not broken(fenced)
    assert any(r.data["reason"].startswith("user ") for r in fenced.trace.of_kind("migration.refused"))
    open_door = migrated(ramp, [], propagation=3, fence=False)
    assert "migration-one-owner" in broken(open_door)
    assert probe_counts(open_door)["write-to-old-store-after-cutover"] == 0  # during the ramp, not after


def test_a_rollback_brings_back_what_the_new_store_took_unless_its_copy_back_was_lost() -> None:
    kept = migrated(ROLLED_BACK, copy_lost(3, 12))
    assert ("rollback", "done") in outcomes(kept)
    assert statuses(kept)["migration-rollback-lossless"] == "holds" and not broken(kept)
    lossy = migrated(ROLLED_BACK, copy_lost(3, 12), acks=False)
    assert "migration-rollback-lossless" in broken(lossy)


def test_a_copy_stalled_while_the_cutover_waits_for_it_is_a_point_outage_that_excuses_a_failed_payment() -> None:
    """The cutover fences the old store and waits for the copy: with the copy's requests lost, Point
    refuses writes until they resume. A payment it failed was touched by the fault on the copy,
    so the liveness promise is excused (found by a search of point-migration)."""
    from concertsim.api import run

    outcome = run("point-migration", seed=3908, overrides=[
        "workload.users=11", "workload.initial_points=200000", "workload.abandon_probability=0.0",
        "migration.steps=[{at: 0, action: copy}, {at: 13.4, action: shift, duration: 5}, {at: 23.4, action: cutover}]",
        "faults=[{at: 11.7, kind: drop, target: request, duration: 20, match: {message_type: point.replicate}}]",
    ])
    refused = [r.at for r in outcome.result.trace.of_kind("migration.refused") if r.party == "point"]
    assert refused and 23.4 <= min(refused) and max(refused) <= 31.7 + 2  # fenced, waiting for the copy
    failed = [op for op in outcome.result.history if op.action == "pay" and op.outcome == "fail"]
    assert failed and all(23.4 <= op.invoke_at <= 31.7 + 2 for op in failed)
    assert "honest-buyer-confirmed" not in outcome.violated


def test_every_migration_safeguard_has_an_ablation_row_that_builds_a_valid_scenario() -> None:
    stages = {None: "monolith", "queue": "point_split", "concert": "queue_split"}
    for service, stage in stages.items():
        rows = [s for s in SAFEGUARDS if s.switch.startswith("migration.") and s.moves == service]
        assert sorted(s.switch.partition("=")[0] for s in rows) == [
            "migration.acks", "migration.capture", "migration.catch_up", "migration.fence", "migration.verify"]
        for safeguard in rows:
            assert safeguard.applies_to("sync") and not safeguard.applies_to("choreography")
            scenario = ablated(small_scenario(), safeguard.switch, "sync", safeguard.setting)
            assert scenario.migration is not None and scenario.design.topology == stage
            assert scenario.migration.service == (service or "point")
    names = [s.name for s in SAFEGUARDS]
    assert len(set(names)) == len(names)  # each row its own name, its own counterexample file
    rows = [s for s in SAFEGUARDS if s.switch.startswith("migration.") and s.moves is None]
    fence = next(s for s in rows if s.switch == "migration.fence=false")
    assert "migration-one-owner" in broken(run_scenario(ablated(small_scenario(), fence.switch, "sync", fence.setting)))


# --- concertsim migrate --plan ----------------------------------------------------------------------


def test_migrate_plan_runs_a_plan_file_and_prints_each_step(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("steps:\n  - {at: 0, action: copy}\n  - {at: 3, action: shift, duration: 10}\n"
                    "  - {at: 20, action: rollback}\n", encoding="utf-8")
    done = cli("migrate", "small-opening", "--plan", str(plan), "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    shown = flat(done.stdout)
    assert "0.0 s copy done" in shown and "3.0 s shift started" in shown and "20.0 s rollback done" in shown
    assert "migration-rollback-lossless: holds" in shown
    assert "migration-one-owner: holds" in shown
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["metrics"]["migration"]["steps"][-1]["action"] == "rollback"
    assert (tmp_path / "out" / "migration-timeline.png").read_bytes().startswith(b"\x89PNG")


def test_migrate_plan_exits_1_on_a_broken_migration_invariant(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("migration:\n  fence: false\n  steps: [{at: 0, action: copy}, {at: 5, action: cutover}]\n",
                    encoding="utf-8")
    done = cli("migrate", "small-opening", "--plan", str(plan), "--out", str(tmp_path / "out"))
    assert done.exit_code == 1, done.output
    assert "migration-one-owner: VIOLATED" in flat(done.stdout)


@pytest.mark.parametrize(("content", "reason"), [
    ("steps:\n  - {at: 5, action: shift}\n", "migration.steps.0: a shift ramps its users over a duration"),
    ("- copy\n", "a migration plan is a mapping of fields, not list"),
])
def test_migrate_plan_refuses_a_bad_plan_file_with_exit_2(tmp_path: Path, content: str, reason: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(content, encoding="utf-8")
    done = cli("migrate", "small-opening", "--plan", str(plan), "--out", str(tmp_path / "out"))
    assert done.exit_code == 2 and str(plan) in refused(done) and reason in refused(done)


def test_migrate_plan_names_the_built_in_plans_for_a_scenario_without_one(tmp_path: Path) -> None:
    done = cli("migrate", "--plan", "small-opening", "--out", str(tmp_path / "out"))
    assert done.exit_code == 2 and "built-in plans: concert-migration, monolith-split, point-migration, queue-migration, reservation-migration" in refused(done)


def test_migrate_runs_the_plan_a_scenario_carries_and_refuses_to_compare_its_stages(tmp_path: Path) -> None:
    carried = ("small-opening", "--set", "design.topology=monolith", "--set", "migration.capture=cdc")
    done = cli("migrate", *carried, "--json", "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert [step["action"] for step in shown["steps"]] == ["copy", "verify", "shift", "shift", "verify", "cutover"]
    assert shown["invariants"]["migration-no-lost-write"] == "holds"
    staged = cli("migrate", *carried, "--stages", "monolith", "--out", str(tmp_path / "other"))
    assert staged.exit_code == 2 and "a migration plan runs in one run" in refused(staged)


def test_ablate_says_which_cells_the_base_cannot_carry_instead_of_failing(tmp_path: Path) -> None:
    done = cli("ablate", "replicas", "--only", "migration.fence", "--flows", "sync", "-n", "1",
               "--out", str(tmp_path / "out"))
    assert done.exit_code == 0, done.output
    assert "not searched: migration.fence=false (sync): services.reservation.replicas > 1 needs design.topology" \
        in flat(done.stderr)


def test_the_report_of_a_plan_shows_its_steps_and_its_timeline() -> None:
    """The run report of a run that carried a migration plan lists each step as it happened and draws
    the plan over time; a run without a plan shows neither."""
    from concertsim.api import run
    from concertsim.reports.document.markdown import to_markdown
    from concertsim.reports.run.figures import run_figures
    from concertsim.reports.run.report import run_blocks

    planned = run("point-migration")
    figures = run_figures(planned)
    assert figures.named("migration-timeline") is not None
    text = to_markdown(run_blocks(planned, figures.rendered))
    assert "## Migration plan" in text and "| 120 s | 4 | cutover | done |" in text
    plain = run("small-opening")
    assert ("The migration plan over time", "no migration plan ran") in run_figures(plain).omitted
    assert "## Migration plan" not in to_markdown(run_blocks(plain, []))


def test_the_report_says_where_the_plan_stood_when_a_promise_broke() -> None:
    from concertsim.api import run
    from concertsim.reports.document.markdown import to_markdown
    from concertsim.reports.run.report import run_blocks

    lossy = run("small-opening", overrides=[
        "design.topology=monolith",
        "migration.steps=[{at: 0, action: copy}, {at: 10, action: shift, duration: 20}, {at: 35, action: cutover}]",
        "migration.acks=false", "migration.verify=false",
        "faults=[{at: 2, kind: drop, target: request, duration: 4, match: {message_type: point.replicate}}]",
    ])
    assert "migration-no-lost-write" in lossy.violated
    text = to_markdown(run_blocks(lossy, []))
    assert "| migration-no-lost-write | at the end | after step 2 (cutover, done) |" in text


@pytest.mark.parametrize("case_file", [
    "point-rollback-skips-an-event-in-flight.yaml",  # the payment fails just before the rollback
    "point-rollback-skips-an-event-raised-during-its-wait.yaml",  # ... while the rollback waits
])
def test_a_rollback_lets_the_new_point_handle_the_events_in_flight_before_it_hands_the_users_back(
    case_file: str,
) -> None:
    """A payment fails around the rollback: the old Point skipped its ReservationFailedEvent (the
    buyer was the new Point's), and the new Point must refund it before the buyer goes back."""
    from concertsim.scenarios.loader import load_scenario

    case = load_scenario(Path(__file__).parent / "cases" / case_file)
    result = run_scenario(case)
    rolled_back = [r for r in result.trace.of_kind("migration.step") if r.data["action"] == "rollback"]
    assert rolled_back and rolled_back[0].data["outcome"] == "done"
    broken = [v.invariant.id for v in check_run(result) if v.violated]
    assert broken == []
