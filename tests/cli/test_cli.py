"""The command line: exit codes 0/1/2, files written, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from concertsim.cli import app
from concertsim.scenarios.loader import builtin_names

BROKEN = sorted((Path(__file__).parents[1] / "scenarios" / "broken").glob("*.yaml"))
SMALL = ["--set", "workload.users=15"]

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize("path", BROKEN, ids=[p.name for p in BROKEN])
def test_validate_refuses_each_broken_file_with_exit_2_and_no_traceback(path: Path) -> None:
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert path.name in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", builtin_names())
def test_validate_accepts_the_builtins(name: str) -> None:
    from concertsim.scenarios.loader import builtin_path

    assert invoke("validate", str(builtin_path(name))).exit_code == 0


@pytest.mark.parametrize("override", ["workload.users=-5", "nosuch.field=1", "design.publish=carrier_pigeon"])
def test_run_with_a_bad_override_exits_2_naming_the_field(override: str, tmp_path: Path) -> None:
    result = invoke("run", "--set", override, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert override.split("=")[0] in result.output
    assert "Traceback" not in result.output


def test_run_writes_summary_trace_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke("run", *SMALL, "--out", str(out), "--json")
    assert result.exit_code == 0
    summary = json.loads(result.output)
    assert summary["holds"] and len(summary["trace_sha256"]) == 64
    for name in ("summary.json", "trace.jsonl", "report.md", "report.html", "latency-cdf.png"):
        assert (out / name).exists(), name


def test_run_exits_1_on_a_violation(tmp_path: Path) -> None:
    result = invoke("run", *SMALL, "--set", "design.hold_expiry=false", "--set", "settle.deadline=60",
                    "--out", str(tmp_path / "o"), "--quiet")
    assert result.exit_code == 1


def test_run_refuses_a_directory_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    result = invoke("run", *SMALL, "--out", str(tmp_path), "--quiet")
    assert result.exit_code == 2 and (tmp_path / "mine.txt").exists()


def test_unknown_scenario_name_exits_2(tmp_path: Path) -> None:
    assert invoke("run", "no-such-scenario", "--out", str(tmp_path / "o")).exit_code == 2


def test_explore_finds_dual_write_losses_and_replay_reproduces_the_hash(tmp_path: Path) -> None:
    out = tmp_path / "explore"
    result = invoke("explore", "--set", "design.publish=dual_write", "-n", "1000", "--out", str(out), "--quiet")
    assert result.exit_code == 1
    counterexample = out / "counterexample.yaml"
    expected = yaml.safe_load(counterexample.read_text())["expect"]["trace_sha256"]
    assert json.loads((out / "summary.json").read_text())["trace_sha256"] == expected
    replayed = invoke("replay", str(counterexample), "--out", str(tmp_path / "replay"), "--json")
    assert replayed.exit_code == 1
    assert json.loads(replayed.output)["trace_sha256"] == expected
    assert json.loads(replayed.output)["reproduced"] is True


def test_replay_reports_a_changed_trace(tmp_path: Path) -> None:
    from concertsim.scenarios.loader import builtin_path

    scenario = yaml.safe_load(builtin_path("small-opening").read_text())
    scenario["expect"] = {"trace_sha256": "0" * 64}
    path = tmp_path / "tampered.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = invoke("replay", str(path), "--out", str(tmp_path / "r"), "--json")
    assert result.exit_code == 3 and json.loads(result.output)["reproduced"] is False


def test_ablate_prints_the_matrix_for_one_safeguard(tmp_path: Path) -> None:
    result = invoke("ablate", "--only", "consumer_dedup", "--flows", "sync", "-n", "1000", "--out", str(tmp_path / "a"), "--json")
    assert result.exit_code == 0
    (row,) = json.loads(result.output)
    assert row["caught"] and row["as_expected"] and row["faults_in_minimal"] <= 3
    assert (tmp_path / "a" / "report.html").exists()


def test_ablate_names_a_safeguard_of_each_service_a_plan_moves_apart(tmp_path: Path) -> None:
    """Queue's, Concert's and Reservation's moves have rows of their own: the same switch on another service's
    plan is another row, chosen by its name and writing its own counterexample."""
    result = invoke("ablate", "--only", "migration.fence=false", "--flows", "sync", "-n", "200",
                    "--out", str(tmp_path / "a"), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["name"] for row in rows] == ["migration.fence=false", "migration.fence=false@queue",
                                             "migration.fence=false@concert", "migration.fence=false@reservation"]
    assert all(row["caught"] and row["as_expected"] for row in rows)
    assert {row["switch"] for row in rows} == {"migration.fence=false"}
    written = sorted(path.name for path in (tmp_path / "a").glob("counterexample-*.yaml"))
    assert written == ["counterexample-migration.fence-false-concert-sync.yaml",
                       "counterexample-migration.fence-false-queue-sync.yaml",
                       "counterexample-migration.fence-false-reservation-sync.yaml",
                       "counterexample-migration.fence-false-sync.yaml"]


def test_sweep_runs_seeds_in_parallel_and_aggregates(tmp_path: Path) -> None:
    result = invoke("sweep", "small-opening", "--seeds", "4", "--workers", "2", "--out", str(tmp_path / "s"), "--json")
    assert result.exit_code == 0
    summary = json.loads(result.output)
    (cell,) = summary["cells"]
    assert summary["seeds"] == [1, 2, 3, 4] and summary["runs"] == 4
    assert len({r["trace_sha256"] for r in cell["seeds"]}) == 4


def test_graph_writes_graphml_and_figure(tmp_path: Path) -> None:
    result = invoke("graph", "--out", str(tmp_path / "g"))
    assert result.exit_code == 0 and "Blast radius" in result.output
    assert (tmp_path / "g" / "architecture.graphml").exists() and (tmp_path / "g" / "architecture.png").exists()


def test_schema_is_json_schema_and_scenarios_lists_all() -> None:
    schema = json.loads(invoke("schema").output)
    assert "design" in schema["properties"]
    listed = invoke("scenarios").output
    assert all(name in listed for name in builtin_names())


def test_check_determinism_runs_twice(tmp_path: Path) -> None:
    assert invoke("run", *SMALL, "--check-determinism", "--out", str(tmp_path / "d"), "--quiet").exit_code == 0


def test_explore_on_two_workers_finds_what_one_finds(tmp_path: Path) -> None:
    outputs = []
    for workers in ("1", "2"):
        done = CliRunner().invoke(app, ["explore", "--set", "design.compensation=false", "-n", "60", "--workers", workers,
                                        "--json", "--out", str(tmp_path / workers)])
        assert done.exit_code == 1, done.output
        outputs.append(json.loads(done.stdout))
    one, two = outputs
    assert two["workers"] == 2
    assert (two["examples_to_failure"], two["counterexample"], two["trace_sha256"]) == (
        one["examples_to_failure"], one["counterexample"], one["trace_sha256"])
    assert one["deletion_pass"]["one_minimal"]


def test_explore_refuses_a_scheduler_that_is_not_an_address(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["explore", "--scheduler", "notaurl", "--out", str(tmp_path / "x")])
    assert done.exit_code == 2
    assert "not a scheduler address" in done.output
