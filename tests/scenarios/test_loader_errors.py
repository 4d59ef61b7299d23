"""Every broken scenario is refused with one ScenarioError naming the file, the field and the reason.

The corpus lives in ``broken/``; ``broken/expected-errors.txt`` says, for each file, which field
path the error must name and a fragment of the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from concertsim.scenarios.loader import (
    ScenarioError,
    apply_overrides,
    load_builtin,
    load_scenario,
    scenario_from_data,
)

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))
HACKED_MARKER = Path("/tmp/concertsim-hacked")  # what broken/python-tag-apply.yaml would create


@dataclass(frozen=True)
class Expected:
    field: str  # "" when the file as a whole is wrong
    reason: str
    what: str


def expected_errors() -> dict[str, Expected]:
    table = {}
    for line in (BROKEN / "expected-errors.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, field, reason, what = (part.strip() for part in line.split("|"))
        table[name] = Expected("" if field == "-" else field, reason, what)
    return table


EXPECTED = expected_errors()


def names_field(field: str, expected: str) -> bool:
    """A problem names ``expected`` if it is that field, a field inside it, or the same YAML line."""
    if not expected:
        return field == ""
    if expected.startswith("line "):
        return field == expected or field.startswith(expected + ",")
    return field == expected or field.startswith(expected + ".")


def refusal(path: Path, overrides: tuple[str, ...] = ()) -> ScenarioError:
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path, overrides)
    return refused.value


# --- the corpus -----------------------------------------------------------------------------------


def test_the_corpus_is_large_and_every_file_is_described() -> None:
    assert len(FILES) >= 40
    assert sorted(EXPECTED) == [p.name for p in FILES]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_broken_file_is_refused_naming_file_field_and_reason(path: Path) -> None:
    expected = EXPECTED[path.name]
    error = refusal(path)
    message = str(error)
    assert error.source == str(path)
    assert message.startswith(f"{path}: invalid scenario")
    assert error.problems and all(reason.strip() for _, reason in error.problems)
    assert any(names_field(field, expected.field) for field, _ in error.problems), message
    assert any(expected.reason.lower() in reason.lower() for _, reason in error.problems), message
    for field, reason in error.problems:
        assert f"{field or '(top level)'}: {reason}" in message


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_broken_file_is_refused_the_same_way_with_overrides(path: Path) -> None:
    """An override on top of a broken file must not hide the file's own problem."""
    error = refusal(path, ("name=overridden",))
    assert error.source == str(path)


def test_corpus_python_tag_file_does_not_execute(tmp_path: Path) -> None:
    existed = HACKED_MARKER.exists()
    for name in ("python-tag-apply.yaml", "python-tag-object.yaml", "python-tag-name.yaml", "python-tag-nested.yaml"):
        refusal(BROKEN / name)
    assert existed or not HACKED_MARKER.exists()


# --- hostile and odd input made on the spot ------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        '!!python/object/apply:os.system ["touch {marker}"]\n',
        "name: !!python/object/apply:os.system ['touch {marker}']\n",
        "!!python/object/apply:subprocess.check_call [[touch, {marker}]]\n",
        "!!python/object/new:subprocess.Popen [[touch, {marker}]]\n",
        "workload:\n  users: !!python/object/apply:os.system ['touch {marker}']\n",
        "faults: [!!python/object/apply:os.system ['touch {marker}']]\n",
    ],
)
def test_python_tags_are_refused_and_never_executed(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "hacked"
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(template.format(marker=marker), encoding="utf-8")
    error = refusal(hostile)
    assert "tag not allowed" in str(error)
    assert not marker.exists()


def test_python_tag_in_an_override_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "hacked"
    with pytest.raises(ScenarioError) as refused:
        load_builtin("small-opening", [f'name=!!python/object/apply:os.system ["touch {marker}"]'])
    assert "name" in str(refused.value)
    assert not marker.exists()


def test_generated_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "random.yaml"
    path.write_bytes(bytes(range(256)) * 4 + b"\x00name: x\n")
    assert "binary" in str(refusal(path))


def test_utf16_file_is_refused_as_not_text(tmp_path: Path) -> None:
    path = tmp_path / "utf16.yaml"
    path.write_text("name: wide\n", encoding="utf-16")
    error = refusal(path)
    assert error.problems[0][0] == ""


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: with-bom\n")
    assert load_scenario(path).name == "with-bom"


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    assert "no such file" in str(refusal(tmp_path / "nope.yaml"))
    assert "directory" in str(refusal(tmp_path))


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * 6_000_000 + "\nname: big\n", encoding="utf-8")
    assert "larger than" in str(refusal(path))


def test_each_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("rules: {hold_ttl: -1}\nworkload: {users: many}\ndesign: {publsh: outbox}\n", encoding="utf-8")
    fields = {field for field, _ in refusal(path).problems}
    assert fields == {"rules.hold_ttl", "workload.users", "design.publsh"}


def test_scenario_from_data_refuses_non_mappings_naming_the_source() -> None:
    for data in (None, 42, "text", ["a"]):
        with pytest.raises(ScenarioError) as refused:
            scenario_from_data(data, "inline")
        assert str(refused.value).startswith("inline: invalid scenario")


# --- overrides ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("workload.users=-5", "workload.users"),
        ("nosuch.field=1", "nosuch"),
        ("design.publish=carrier_pigeon", "design.publish"),
        ("rules.hold_ttl=.nan", "rules.hold_ttl"),
        ("workload.users=[1", "workload.users"),
        ("workload.users.x=1", "workload.users"),
        ("faults.9.at=1", "faults.9.at"),
        ("workload=5", "workload"),
        ("noequals", "noequals"),
    ],
)
def test_bad_override_names_the_field_and_the_override(override: str, field: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_builtin("relay-crashes", [override])
    error = refused.value
    assert any(name == field for name, _ in error.problems), str(error)
    assert override.split("=")[0] in str(error)


def test_override_problem_says_which_set_it_came_from() -> None:
    with pytest.raises(ScenarioError) as refused:
        load_builtin("small-opening", ["workload.users=-5"])
    assert "(from --set workload.users=-5)" in str(refused.value)


def test_overrides_reach_lists_by_index() -> None:
    data = apply_overrides({"faults": [{"at": 1}]}, ["faults.0.at=5"], "x")
    assert data == {"faults": [{"at": 5}]}


# --- inputs that once slipped through --------------------------------------------------------------


def test_deeply_nested_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    refusal(path)


@pytest.mark.parametrize(
    "fault",
    [
        "{at: 1, kind: slow, target: point, params: {factor: -1}}",
        "{at: 1, kind: delay, target: request, params: {seconds: -5}}",
    ],
)
def test_negative_fault_parameters_are_refused(tmp_path: Path, fault: str) -> None:
    path = tmp_path / "negative-param.yaml"
    path.write_text(f"faults:\n  - {fault}\n", encoding="utf-8")
    refusal(path)
