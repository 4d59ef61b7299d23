"""The planted-defect catalogue (``bench/defects/``, run by ``bench/planted_defects.py``) stays
plantable, and planting works.

The catalogue is checked against the checkout's sources, so a refactoring that moves a defect's
snippet fails here, cheaply, rather than in a long benchmark run. One end-to-end test plants a
defect in a temporary copy and shows, in a subprocess, that the copy is what runs and that it
behaves differently from a clean copy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.bench_modules import load_bench

planted_defects = load_bench("planted_defects")
DEFECTS = planted_defects.DEFECTS


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.id for d in DEFECTS])
def test_each_defect_is_a_change_to_one_place_of_the_runtime_or_the_domain(defect) -> None:
    assert defect.path.startswith(planted_defects.PLANTABLE_ROOTS), defect.path
    source = (planted_defects.REPO / defect.path).read_text()
    assert source.count(defect.before) == 1, f"{defect.id}: snippet not found exactly once"
    assert defect.after != defect.before
    assert planted_defects.planted(defect, source) != source
    assert defect.flows and set(defect.flows) <= set(planted_defects.FLOWS)
    assert defect.why.strip()


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.id for d in DEFECTS])
def test_each_defect_names_a_built_in_scenario_and_a_witness_that_loads(defect) -> None:
    from concertsim.scenarios.loader import builtin_names, load_builtin

    assert defect.scenario in builtin_names(), defect.scenario
    load_builtin(defect.scenario, [*defect.settings, *defect.witness])
    for flow in defect.flows:  # explore varies the scenario in each flow the defect names
        load_builtin(defect.scenario, [*defect.settings, f"design.payment_flow={flow}"])


def test_each_mechanism_module_holds_its_own_defects() -> None:
    mechanisms = planted_defects.MECHANISMS
    assert [d for defects in mechanisms.values() for d in defects] == list(DEFECTS)
    assert all(mechanisms.values()), "a mechanism without defects"


def test_the_catalogue_is_large_and_its_ids_unique() -> None:
    ids = [d.id for d in DEFECTS]
    assert len(ids) >= 15
    assert len(set(ids)) == len(ids)


def test_every_defect_has_a_witness_scenario() -> None:
    assert set(planted_defects.WITNESSES) == {d.id for d in DEFECTS}


def test_a_planted_copy_is_what_a_subprocess_runs_and_it_behaves_differently() -> None:
    defect = next(d for d in DEFECTS if d.id == "queue-activates-one-over-capacity")
    overrides = planted_defects.WITNESSES[defect.id]
    with planted_defects.pristine_copy() as clean_root:
        clean = planted_defects.run_witness(clean_root, overrides)
        assert Path(clean["module"]).is_relative_to(clean_root)
    with planted_defects.planted_copy(defect) as root:
        assert defect.after in (root / defect.path).read_text()
        seen = planted_defects.run_witness(root, overrides)
        assert Path(seen["module"]).is_relative_to(root)
    assert seen["trace_sha256"] != clean["trace_sha256"]
    assert "queue-capacity" in seen["violated"] and not clean["violated"]
    assert (planted_defects.REPO / defect.path).read_text().count(defect.after) == 0, "checkout touched"


def test_a_defect_of_a_newer_mechanism_is_witnessed_on_its_own_scenario() -> None:
    defect = next(d for d in DEFECTS if d.id == "rabbitmq-nack-not-requeued")
    assert defect.scenario == "rabbitmq-broker"
    assert planted_defects.WITNESSES[defect.id] == ("broker.retry_in_place=false",)  # the nacks it needs
    with planted_defects.pristine_copy() as clean_root:
        clean = planted_defects.run_witness(clean_root, planted_defects.WITNESSES[defect.id], defect.scenario)
    with planted_defects.planted_copy(defect) as root:
        seen = planted_defects.run_witness(root, planted_defects.WITNESSES[defect.id], defect.scenario)
    assert clean["violated"] == []
    assert "no-lost-events" in seen["violated"]


def test_a_seat_cache_that_never_invalidates_breaks_the_bound_its_clean_copy_keeps() -> None:
    defect = next(d for d in DEFECTS if d.id == "seat-cache-invalidates-versioned-only")
    assert defect.scenario == "seat-cache"
    assert planted_defects.WITNESSES[defect.id] == ("seat_cache.mode=invalidated",)
    with planted_defects.pristine_copy() as clean_root:
        clean = planted_defects.run_witness(clean_root, planted_defects.WITNESSES[defect.id], defect.scenario)
    with planted_defects.planted_copy(defect) as root:
        seen = planted_defects.run_witness(root, planted_defects.WITNESSES[defect.id], defect.scenario)
    assert clean["violated"] == []
    assert seen["violated"] == ["seat-cache-bounded"]
