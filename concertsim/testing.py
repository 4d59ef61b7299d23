"""Assertions for users' own tests: a scenario keeps every promise, or the test fails with the
broken promises, a scenario file that reproduces the run, and the command that replays it.

Used by the pytest plugin (:mod:`concertsim.pytest_plugin`), and usable from any test runner::

    from concertsim.testing import assert_holds
    assert_holds("ticket-opening", overrides=["design.compensation=false"])
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from concertsim.api import RunOutcome, check_run_arguments, resolve_scenario
from concertsim.checks import check_run
from concertsim.scenarios.loader import to_yaml
from concertsim.scenarios.schema import Expectation, Scenario
from concertsim.sim.run.cost import refuse_if_too_large
from concertsim.sim.run.runner import run_scenario

__all__ = ["assert_holds", "PromiseBroken", "DEFAULT_COUNTEREXAMPLE_DIR"]

DEFAULT_COUNTEREXAMPLE_DIR = Path(".concertsim") / "counterexamples"


class PromiseBroken(AssertionError):
    """A scenario broke at least one invariant; ``path`` is the scenario file written for it."""

    def __init__(self, message: str, outcome: RunOutcome, path: Path | None) -> None:
        super().__init__(message)
        self.outcome, self.path = outcome, path


def assert_holds(
    scenario: Scenario | str | Path | None,
    *,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    counterexample_dir: Path | None = DEFAULT_COUNTEREXAMPLE_DIR,
    allow_large: bool = False,
) -> RunOutcome:
    """Run ``scenario`` (an object, a file, a built-in name; None: the default) and return its
    outcome if every enabled invariant held. Otherwise raise :class:`PromiseBroken`, naming each
    broken invariant with its first violation, after writing the scenario (with the seed that broke
    it) to ``counterexample_dir`` (None: write nothing) under a name derived from its content, so
    the same failure always lands in the same file; inside a Hypothesis test, only the example
    Hypothesis finally reports is written. Raises ``ScenarioError`` for a bad scenario, ``ValueError``
    for a bad seed, and :class:`~concertsim.sim.run.cost.RunTooLarge` for a run estimated to need more
    memory than the machine allows (unless ``allow_large``), as :func:`concertsim.run` does."""
    __tracebackhide__ = True  # pytest shows the caller's line and this message, not this body
    check_run_arguments(seed)
    resolved = resolve_scenario(scenario, list(overrides))
    if seed is not None:
        resolved = resolved.model_copy(update={"seed": seed})
    if not allow_large:
        refuse_if_too_large(resolved)
    result = run_scenario(resolved)
    outcome = RunOutcome(result, check_run(result))
    if outcome.holds:
        return outcome
    write = counterexample_dir is not None and _reported_example()
    path, not_written = None, None
    if write:
        try:
            path = _write(resolved, outcome, counterexample_dir)
        except OSError as error:  # the broken promise is the news; a read-only disk must not hide it
            not_written = f"the scenario could not be written to {counterexample_dir} ({error.strerror or error})"
    lines = [f"scenario {resolved.name!r} (seed {result.seed}) broke {len(outcome.violated)} invariant(s):"]
    for verdict in outcome.verdicts:
        if verdict.violated:
            first = verdict.violations[0]
            lines.append(f"  {verdict.invariant.id}: {first.message} (at {first.at:.3f} s)"
                         if first.at is not None else f"  {verdict.invariant.id}: {first.message}")
    if path is not None:
        lines.append(f"scenario written to {path}; replay with: concertsim replay {path}")
    if not_written is not None:
        lines.append(f"{not_written}; choose a writable --concertsim-dir")
    raise PromiseBroken("\n".join(lines), outcome, path)


def _reported_example() -> bool:
    """False while Hypothesis is still searching or shrinking: only the example it finally reports
    is written, not every failing one it tried on the way."""
    from hypothesis.control import current_build_context
    from hypothesis.errors import InvalidArgument

    try:
        return bool(current_build_context().is_final)
    except InvalidArgument:  # not inside a Hypothesis test
        return True


def _write(scenario: Scenario, outcome: RunOutcome, directory: Path) -> Path:
    """The scenario with its seed and, under ``expect:``, the recording replay compares with."""
    recorded = scenario.model_copy(update={
        "seed": outcome.result.seed,
        "expect": Expectation(trace_sha256=outcome.result.trace_sha256, violated=tuple(outcome.violated)),
    })
    text = to_yaml(recorded, header=f"broke: {', '.join(outcome.violated)}\nreplay: concertsim replay <this file>")
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario.name).strip("-") or "scenario"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{digest}.yaml"
    path.write_text(text, encoding="utf-8")
    return path
