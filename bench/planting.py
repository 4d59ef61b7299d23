"""A planted copy of the package: a defect applied to a temporary copy, never to the checkout.

Used by ``bench/planted_defects.py``. A copy is the working tree's package, or with ``revision``
the package, tests and ``pyproject.toml`` of a git revision. Each copy holds an import guard (a
pytest plugin, and the code each subprocess runs first) that refuses to run unless ``concertsim``
was imported from the copy: a subprocess run with :func:`subprocess_env` puts the copy first on
``PYTHONPATH``, with ``PYTHONSAFEPATH=1`` so that the working directory cannot come before it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from defects import Defect

__all__ = ["REPO", "PACKAGE", "PLANTABLE_ROOTS", "IMPORT_GUARD", "GUARD_MODULE", "planted", "pristine_copy",
           "planted_copy", "tests_root", "subprocess_env"]

REPO = Path(__file__).resolve().parent.parent
"""The repository root: the checkout whose package is copied and whose tests are run."""

PACKAGE = "concertsim"
PLANTABLE_ROOTS = ("concertsim/sim/", "concertsim/models/")
"""Where defects may be planted: the runtime and the domain, never the checks that judge them."""

_ROOT_VARIABLE = "CONCERTSIM_PLANTED_ROOT"
GUARD_MODULE = "concertsim_planted_guard"
_GUARD_SOURCE = f'''"""pytest plugin: refuse to run unless concertsim is imported from the planted copy."""
import os

import pytest


def pytest_configure(config):
    import concertsim

    root = os.environ["{_ROOT_VARIABLE}"]
    if not os.path.realpath(concertsim.__file__).startswith(os.path.realpath(root) + os.sep):
        raise pytest.UsageError(f"concertsim was imported from {{concertsim.__file__}}, not from {{root}}")
'''
IMPORT_GUARD = (
    "import os, sys, concertsim\n"
    f"_root = os.path.realpath(os.environ['{_ROOT_VARIABLE}']) + os.sep\n"
    "if not os.path.realpath(concertsim.__file__).startswith(_root):\n"
    "    sys.exit(f'concertsim was imported from {concertsim.__file__}, not from {_root}')\n"
)


def planted(defect: Defect, source: str) -> str:
    """``source`` with ``defect`` applied. Raises ValueError unless ``before`` occurs exactly once
    and ``after`` differs from it."""
    count = source.count(defect.before)
    if count != 1:
        raise ValueError(f"{defect.id}: the snippet occurs {count} times in {defect.path}, not once")
    if defect.after == defect.before:
        raise ValueError(f"{defect.id}: before and after are the same")
    return source.replace(defect.before, defect.after)


def _copy_package(root: Path, revision: str | None) -> None:
    """Fill ``root`` with the working tree's package, or with the package, the tests and
    ``pyproject.toml`` of git ``revision``; add the import guard."""
    if revision is None:
        shutil.copytree(
            REPO / PACKAGE, root / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    else:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision, PACKAGE, "tests", "pyproject.toml"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
    (root / f"{GUARD_MODULE}.py").write_text(_GUARD_SOURCE)


@contextlib.contextmanager
def pristine_copy(revision: str | None = None) -> Iterator[Path]:
    """A temporary directory holding an unmodified copy of the package (the baseline planted
    copies are compared with): the working tree's, or git ``revision``'s with its tests. Removed
    on exit."""
    with tempfile.TemporaryDirectory(prefix="concertsim-pristine-") as temporary:
        root = Path(temporary)
        _copy_package(root, revision)
        yield root


@contextlib.contextmanager
def planted_copy(defect: Defect, revision: str | None = None) -> Iterator[Path]:
    """A temporary directory holding a copy of the package with ``defect`` applied: the working
    tree's package, or git ``revision``'s package and tests. Put it first on ``PYTHONPATH`` of a
    subprocess (see :func:`subprocess_env`) to run the planted package. The checkout is only
    read. Raises ValueError if the defect's snippet is not in the copy exactly once. Removed on
    exit."""
    with tempfile.TemporaryDirectory(prefix=f"concertsim-planted-{defect.id}-") as temporary:
        root = Path(temporary)
        _copy_package(root, revision)
        target = root / defect.path
        target.write_text(planted(defect, target.read_text()))
        yield root


def tests_root(root: Path) -> Path:
    """Where to run the property suite for a copy: the copy itself when it holds a revision's
    tests, else the repository root (the working tree's tests and conftest)."""
    return root if (root / "tests").is_dir() else REPO


def subprocess_env(root: Path) -> dict[str, str]:
    """The environment that makes a subprocess import ``concertsim`` from ``root``: ``root``
    first on ``PYTHONPATH``, ``PYTHONSAFEPATH`` so the working directory (the checkout, when run
    from the repository root) is not put before it, no byte-code written into the copy, and the
    CI Hypothesis profile."""
    env = dict(os.environ)
    inherited = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([str(root), *([inherited] if inherited else [])])
    env["PYTHONSAFEPATH"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HYPOTHESIS_PROFILE"] = "ci"
    env[_ROOT_VARIABLE] = str(root)
    return env
