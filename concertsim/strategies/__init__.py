"""Hypothesis strategies for workloads and fault schedules (public API).

The strategies are swarm-style: each example first draws *which* fault kinds are enabled, so some
examples hammer one kind of failure and others mix several. Every part is declared so that Hypothesis
shrinks towards the simplest failing case: fewer faults, fewer users, earlier times, shorter
windows, narrower message filters.

    >>> from hypothesis import given
    >>> from concertsim.strategies import scenarios
    >>> @given(scenarios())
    ... def test_design_keeps_its_promises(scenario): ...

The package, from the bottom up: :mod:`~concertsim.strategies.targets` (what a fault can aim at),
:mod:`~concertsim.strategies.incidents` (faults that meet on one call, on the hold's scale),
:mod:`~concertsim.strategies.migration` (a plan's timing and the incidents of its moves),
:mod:`~concertsim.strategies.faults` (one fault, a schedule) and
:mod:`~concertsim.strategies.examples` (whole scenarios). Names with a leading underscore are
shared between these modules and private to the package.
"""

from __future__ import annotations

from concertsim.strategies.examples import (
    EXPLORATION_BASE,
    call_span_of,
    crash_targets_of,
    scenarios,
    small_base,
    storage_settings,
    workloads,
)
from concertsim.strategies.faults import fault_schedules, fault_specs
from concertsim.strategies.incidents import broken_channel, frozen_caller, hung_call, server_trouble
from concertsim.strategies.migration import Moves, copy_trouble, migration_plans, plan_moves
from concertsim.strategies.targets import ENDPOINT_NAMES, EVENT_TYPES, FAULT_KINDS, SAGA_MESSAGES

__all__ = [
    "EXPLORATION_BASE",
    "small_base",
    "FAULT_KINDS",
    "fault_specs",
    "fault_schedules",
    "workloads",
    "storage_settings",
    "migration_plans",
    "copy_trouble",
    "scenarios",
    "ENDPOINT_NAMES",
    "EVENT_TYPES",
    "SAGA_MESSAGES",
    "server_trouble",
    "hung_call",
    "frozen_caller",
    "broken_channel",
    "plan_moves",
    "Moves",
    "call_span_of",
    "crash_targets_of",
]
