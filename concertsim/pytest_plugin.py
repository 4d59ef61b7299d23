"""concertsim's pytest plugin (entry point ``pytest11``: active wherever concertsim is installed).

- The ``concertsim`` fixture asserts that a scenario file or built-in name keeps its promises::

      def test_the_opening_holds(concertsim):
          concertsim.assert_holds("ticket-opening", overrides=["workload.users=50"])

      @given(scenarios())
      def test_my_variant_keeps_its_promises(concertsim, scenario):
          concertsim.assert_holds(scenario)

  A broken promise fails the test with each broken invariant and its first violation, after
  writing a scenario file that replays the run (``concertsim replay FILE``) to the counterexample
  directory: ``--concertsim-dir`` or the ini option ``concertsim_dir``, default
  ``.concertsim/counterexamples`` under the rootdir. The failure message names the file.
- The Hypothesis profile ``concertsim-ci`` (fixed and bounded, so a green build stays green: derandomized,
  no example database, no deadline, concertsim's reproducible backend) is loaded for the whole
  session unless ``--hypothesis-profile`` chose another or ``concertsim_hypothesis_profile`` (ini)
  names another profile, or ``none`` to leave Hypothesis's settings alone. Users' own property
  tests over ``concertsim.strategies.scenarios`` draw the same examples as concertsim's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

from concertsim.api import RunOutcome
from concertsim.scenarios.schema import Scenario
from concertsim.search.provider import BACKEND, register
from concertsim.testing import DEFAULT_COUNTEREXAMPLE_DIR, assert_holds

__all__ = ["CI_PROFILE", "ConcertsimFixture"]

CI_PROFILE = "concertsim-ci"

register()
settings.register_profile(
    CI_PROFILE,
    backend=BACKEND,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class ConcertsimFixture:
    """What the ``concertsim`` fixture gives a test: :meth:`assert_holds` writing counterexamples
    to ``counterexample_dir``."""

    def __init__(self, counterexample_dir: Path) -> None:
        self.counterexample_dir = counterexample_dir

    def assert_holds(
        self, scenario: Scenario | str | Path | None = None, *, seed: int | None = None,
        overrides: Sequence[str] = (), allow_large: bool = False,
    ) -> RunOutcome:
        """See :func:`concertsim.testing.assert_holds`."""
        __tracebackhide__ = True
        return assert_holds(scenario, seed=seed, overrides=overrides, counterexample_dir=self.counterexample_dir,
                            allow_large=allow_large)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("concertsim")
    group.addoption("--concertsim-dir", metavar="DIR", default=None,
                    help="where scenario files of broken promises are written "
                         f"(default: {DEFAULT_COUNTEREXAMPLE_DIR} under the rootdir)")
    parser.addini("concertsim_dir", "where scenario files of broken promises are written", default="")
    parser.addini("concertsim_hypothesis_profile",
                  f"Hypothesis profile loaded for the session ({CI_PROFILE} by default; none: leave it)",
                  default=CI_PROFILE)


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("hypothesis_profile", default=None)
    profile = str(config.getini("concertsim_hypothesis_profile")).strip()
    if chosen is None and profile and profile != "none":
        try:
            settings.load_profile(profile)
        except InvalidArgument:
            known = ", ".join(sorted(settings._profiles))  # noqa: SLF001 - Hypothesis lists them nowhere public
            raise pytest.UsageError(
                f"concertsim_hypothesis_profile = {profile}: no Hypothesis profile of that name "
                f"(registered: {known}; or none to leave Hypothesis's settings alone)"
            ) from None


def _counterexample_dir(config: pytest.Config) -> Path:
    given = config.getoption("concertsim_dir") or str(config.getini("concertsim_dir")).strip()
    directory = Path(given) if given else DEFAULT_COUNTEREXAMPLE_DIR
    return directory if directory.is_absolute() else config.rootpath / directory


@pytest.fixture(scope="session")
def concertsim(pytestconfig: pytest.Config) -> ConcertsimFixture:
    """Asserts that scenarios keep their promises; see :mod:`concertsim.pytest_plugin`. Session
    scoped (it holds no state of a test), so Hypothesis property tests may use it too."""
    return ConcertsimFixture(_counterexample_dir(pytestconfig))
