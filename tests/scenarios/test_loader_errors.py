"""Every broken scenario file is refused with the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from concertsim.scenarios.loader import ScenarioError, apply_overrides, load_scenario

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))

# file -> the field path the error must name ("" when the problem is the file as a whole)
FIELD = {
    "bad-enum.yaml": "design.payment_flow",
    "fault-target-wrong-for-kind.yaml": "faults.0",
    "fractional-users.yaml": "workload.users",
    "huge-seed.yaml": "seed",
    "infinite-ttl.yaml": "rules.hold_ttl",
    "nan-latency.yaml": "network.latency.median",
    "negative-ttl.yaml": "rules.hold_ttl",
    "param-not-for-kind.yaml": "faults.0",
    "partition-same-party.yaml": "faults.0",
    "rate-above-one.yaml": "faults.0.match.rate",
    "recursive-alias.yaml": "a",
    "uniform-high-below-low.yaml": "network.latency",
    "unknown-distribution.yaml": "network.latency",
    "unknown-fault-kind.yaml": "faults.0.kind",
    "unknown-invariant.yaml": "checks",
    "unknown-nested-key.yaml": "design.publsh",
    "unknown-top-level-key.yaml": "nmae",
    "wrong-type-users.yaml": "workload.users",
    "syntax-indentation.yaml": "line 4",
    "syntax-unclosed-bracket.yaml": "line 2",
    "python-tag-apply.yaml": "line 1",
    "python-tag-object.yaml": "line 1",
}


def test_the_corpus_is_large() -> None:
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_broken_file_is_refused_with_file_field_and_reason(path: Path) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    message = str(refused.value)
    assert str(path) in message
    assert refused.value.problems and all(reason for _, reason in refused.value.problems)
    if path.name in FIELD:
        assert any(field.startswith(FIELD[path.name]) for field, _ in refused.value.problems), message


def test_python_tags_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "hacked"
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(f'!!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ScenarioError):
        load_scenario(hostile)
    assert not marker.exists()


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.yaml", tmp_path):
        with pytest.raises(ScenarioError):
            load_scenario(path)


@pytest.mark.parametrize("override", ["workload.users=-5", "nosuch.field=1", "design.publish=carrier_pigeon", "noequals"])
def test_bad_overrides_name_the_field(override: str) -> None:
    from concertsim.scenarios.loader import load_builtin

    with pytest.raises(ScenarioError) as refused:
        load_builtin("ticket-opening", [override])
    assert override.split("=")[0].split(".")[0] in str(refused.value)


def test_overrides_reach_lists_by_index() -> None:
    data = apply_overrides({"faults": [{"at": 1}]}, ["faults.0.at=5"], "x")
    assert data == {"faults": [{"at": 5}]}
