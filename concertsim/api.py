"""The library's front door: run a scenario and judge it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from concertsim.checks import Verdict, check_run
from concertsim.metrics import compute_metrics
from concertsim.scenarios.loader import (
    DEFAULT_SCENARIO,
    load_builtin,
    load_named_or_file,
    scenario_from_data,
)
from concertsim.scenarios.schema import Scenario
from concertsim.sim.infrastructure.trace import TRACE_MODES, TraceMode
from concertsim.sim.run.cost import chosen_trace_mode, refuse_if_too_large
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario

__all__ = ["run", "RunOutcome", "resolve_scenario", "check_run_arguments"]


@dataclass
class RunOutcome:
    """A finished run and the verdict of every enabled invariant: holds, violated, or not
    applicable (it could not be judged on this run, with the reason)."""

    result: RunResult
    verdicts: list[Verdict]

    @property
    def holds(self) -> bool:
        """No invariant was violated (those not applicable do not count either way)."""
        return not any(v.violated for v in self.verdicts)

    @property
    def violated(self) -> list[str]:
        """The invariants broken, in the checks' order."""
        return [v.invariant.id for v in self.verdicts if v.violated]

    @property
    def held(self) -> list[str]:
        """The invariants judged on this run and kept (never one that is not applicable)."""
        return [v.invariant.id for v in self.verdicts if v.holds]

    @property
    def not_applicable(self) -> dict[str, str]:
        """The invariants this run could not judge, each with the reason."""
        return {v.invariant.id: v.not_applicable for v in self.verdicts if v.not_applicable is not None}

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return compute_metrics(self.result)

    def trace_frame(self) -> Any:
        """The trace as a pandas DataFrame (see :func:`concertsim.frames.trace_frame`)."""
        from concertsim.frames import trace_frame

        return trace_frame(self.result)

    def history_frame(self) -> Any:
        """The client operations as a pandas DataFrame."""
        from concertsim.frames import history_frame

        return history_frame(self.result)

    def metrics_frame(self) -> Any:
        """The metrics of ``summary.json`` as a long pandas DataFrame (section, name, value)."""
        from concertsim.frames import metrics_frame

        return metrics_frame(self.metrics)

    def _repr_html_(self) -> str:
        """The verdict, the invariants and the key figures, for notebooks."""
        from concertsim.reports.exports.notebook import run_html

        return run_html(self)

    def summary(self) -> dict[str, Any]:
        """The content of ``summary.json``. ``holds`` is true when no invariant was violated;
        each invariant's ``status`` says whether it holds, was violated or is not applicable (with
        its ``reason``)."""
        result = self.result
        metrics = self.metrics  # first: a large trace's hash may still be being made in another process
        return {
            "scenario": result.scenario.name,
            "seed": result.seed,
            "design": result.scenario.design.model_dump(),
            "trace_sha256": result.trace_sha256,
            "holds": self.holds,
            "violated": self.violated,
            "not_applicable": self.not_applicable,
            "invariants": [v.to_json() for v in self.verdicts],
            "metrics": metrics,
            "scenario_definition": result.scenario.model_dump(mode="json"),
        }


def resolve_scenario(spec: Scenario | str | Path | None, overrides: tuple[str, ...] | list[str] = ()) -> Scenario:
    """A scenario from an object, a file path, or a built-in name (None: the default).

    An existing file wins over a built-in scenario of the same name. Raises ``ScenarioError``,
    with the closest built-in names for a name that is neither a file nor a built-in.
    """
    if isinstance(spec, Scenario):
        if not overrides:
            return spec
        return scenario_from_data(spec.model_dump(mode="json"), spec.name, overrides)
    if spec is None:
        return load_builtin(DEFAULT_SCENARIO, overrides)
    return load_named_or_file(spec, overrides)


def run(
    scenario: Scenario | str | Path | None = None,
    seed: int | None = None,
    overrides: tuple[str, ...] | list[str] = (),
    trace_mode: TraceMode | Literal["auto"] = "auto",
    allow_large: bool = False,
) -> RunOutcome:
    """Run ``scenario`` (default: the built-in ticket opening) with ``seed`` and check it.

    ``trace_mode="stream"`` keeps most of the trace on disk while the run goes (for runs too big
    for memory): the same outcome, read back more slowly; ``"auto"`` streams a run estimated not to
    fit comfortably in memory with its whole trace (:func:`~concertsim.sim.run.cost.chosen_trace_mode`),
    ``"memory"`` never streams. The arguments are checked as the command
    line checks them: a ``seed`` that is not a whole number from 0 to 2**63 - 1 or an unknown
    ``trace_mode`` raises ``ValueError``, a bad scenario ``ScenarioError``, and a run estimated to
    need more memory than the machine allows :class:`~concertsim.sim.run.cost.RunTooLarge` unless
    ``allow_large``."""
    check_run_arguments(seed, trace_mode)
    resolved = resolve_scenario(scenario, overrides)
    mode = chosen_trace_mode(resolved, str(trace_mode))
    if not allow_large:
        refuse_if_too_large(resolved, streamed=mode == "stream")
    result = run_scenario(resolved, seed, trace_mode=mode)
    return RunOutcome(result, check_run(result))


def check_run_arguments(seed: object, trace_mode: object = "auto") -> None:
    """Raise ``ValueError`` naming the argument if ``seed`` is not None or a whole number from 0
    to 2**63 - 1 (the scenario's bound), or ``trace_mode`` is not one of :data:`TRACE_MODES`."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise ValueError(f"seed must be a whole number from 0 to 2**63 - 1, not {seed!r}")
    if trace_mode not in ("auto", *TRACE_MODES):
        raise ValueError(f"trace_mode must be one of {', '.join(map(repr, ('auto', *TRACE_MODES)))}, "
                         f"not {trace_mode!r}")
