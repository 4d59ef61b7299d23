"""Reading scenarios strictly: duplicate keys, free text that would display as something else,
built-in names with "did you mean", and errors that name the --set they come from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from concertsim.scenarios.loader import (
    ScenarioError,
    builtin_names,
    builtin_path,
    load_builtin,
    load_named_or_file,
    load_scenario,
    parse_yaml,
    scenario_from_data,
)
from concertsim.scenarios.schema import text_problem


def refusal(path: Path, overrides: tuple[str, ...] = ()) -> ScenarioError:
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path, overrides)
    return refused.value


# --- duplicate keys ---------------------------------------------------------------------------------


def test_a_second_faults_block_is_refused_naming_the_key_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(
        "name: twice\n"
        "faults:\n"
        "  - {at: 10, kind: crash, target: point}\n"
        "workload: {users: 5}\n"
        "faults:\n"
        "  - {at: 1, kind: drop, target: reply}\n",
        encoding="utf-8",
    )
    error = refusal(path)
    ((field, reason),) = error.problems
    assert field == "line 5, column 1"
    assert "duplicate key 'faults'" in reason and "first at line 2" in reason and "again at line 5" in reason


def test_duplicates_are_found_at_any_depth_and_in_flow_mappings(tmp_path: Path) -> None:
    nested = tmp_path / "nested.yaml"
    nested.write_text("design:\n  publish: outbox\n  publish: dual_write\n", encoding="utf-8")
    assert "duplicate key 'publish'" in str(refusal(nested))
    flow = tmp_path / "flow.yaml"
    flow.write_text("faults: [{at: 1, kind: crash, target: point, at: 2}]\n", encoding="utf-8")
    assert "duplicate key 'at'" in str(refusal(flow))


def test_keys_that_yaml_reads_as_the_same_value_are_duplicates() -> None:
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        parse_yaml("{1: a, 1.0: b}")
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        parse_yaml("{yes: a, true: b}")


def test_a_merge_key_and_an_explicit_key_are_not_duplicates() -> None:
    text = "base: &base {users: 5, duration: 60}\nworkload:\n  <<: *base\n  users: 7\n"
    assert parse_yaml(text) == yaml.safe_load(text)
    assert parse_yaml(text)["workload"] == {"users": 7, "duration": 60}


@pytest.mark.parametrize("name", builtin_names())
def test_the_strict_loader_reads_every_builtin_as_safe_load_does(name: str) -> None:
    text = builtin_path(name).read_text(encoding="utf-8")
    assert parse_yaml(text) == yaml.safe_load(text)


def test_the_strict_loader_still_refuses_python_tags() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        parse_yaml("!!python/object/apply:os.system ['true']\n")


def test_a_duplicate_key_inside_a_set_value_names_the_set() -> None:
    with pytest.raises(ScenarioError) as refused:
        load_builtin("small-opening", ["design={publish: outbox, publish: dual_write}"])
    assert "duplicate key 'publish'" in str(refused.value)
    assert "--set design=" in str(refused.value)


# --- free text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("name", "invoice\u202etxt.exe", "U+202E"),
        ("name", "left\u2066isolate", "U+2066"),
        ("name", "two\nlines", "U+000A"),
        ("name", "bell\x07", "U+0007"),
        ("name", "line\u2028separator", "U+2028"),
        ("description", "clear \x1b[2J", "U+001B"),
        ("description", "c1 control \x85", "U+0085"),
    ],
)
def test_free_text_that_would_display_as_something_else_is_refused(field: str, value: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        scenario_from_data({field: value}, "inline")
    ((where, reason),) = refused.value.problems
    assert where == field and fragment in reason


def test_descriptions_may_span_lines_and_names_may_be_any_language() -> None:
    scenario = scenario_from_data({"name": "티켓 오픈 — ünïcode", "description": "one\n\ttwo\n"}, "inline")
    assert scenario.name == "티켓 오픈 — ünïcode"


def test_match_filters_and_endpoint_names_are_free_text_too() -> None:
    with pytest.raises(ScenarioError) as refused:
        scenario_from_data({"services": {"point": {"endpoint_times": {"use\u202e": {"kind": "constant", "value": 1}}}}}, "x")
    assert "U+202E" in str(refused.value)
    assert text_problem("point.use") is None


# --- names, files and --set ---------------------------------------------------------------------------


def test_a_misspelt_builtin_name_gets_a_did_you_mean() -> None:
    with pytest.raises(ScenarioError) as refused:
        load_named_or_file("ticket-openin")
    message = str(refused.value)
    assert "did you mean 'ticket-opening'?" in message and "no such file or built-in scenario" in message


def test_a_misspelt_file_name_says_no_such_file_and_suggests_a_builtin(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_named_or_file(str(tmp_path / "relay-crash.yaml"))
    assert "no such file" in str(refused.value) and "did you mean 'relay-crashes'" in str(refused.value)


def test_a_builtin_name_and_a_file_of_that_name_resolve_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("small-opening").write_text("name: my-own\n", encoding="utf-8")
    assert load_named_or_file("small-opening").name == "my-own"


def test_an_override_error_on_a_builtin_names_the_set_and_not_the_installation() -> None:
    with pytest.raises(ScenarioError) as refused:
        load_builtin("relay-crashes", ["workload.users=-5"])
    message = str(refused.value)
    assert message.startswith("built-in scenario 'relay-crashes': invalid scenario")
    assert "(from --set workload.users=-5)" in message
    assert str(builtin_path("relay-crashes").parent) not in message


@pytest.mark.parametrize("override", ["noequals", "workload.users.x=1", "faults.9.at=1", "workload.users=[1"])
def test_every_override_problem_names_its_set(override: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_builtin("relay-crashes", [override])
    assert f"--set {override}" in str(refused.value)


def test_a_scenario_name_too_long_for_the_file_system_is_refused() -> None:
    with pytest.raises(ScenarioError, match="File name too long"):
        load_named_or_file("s" * 300)
