"""The ``concertsim`` command line: a thin layer over the library.

:mod:`concertsim.cli.app` holds the typer application and what the commands share; each command
lives in its own module and registers itself when imported here, and once all are, their help
texts are unwrapped for the terminal to wrap (:mod:`concertsim.cli.help_text`). Exit codes are
listed in :mod:`concertsim.cli.errors`.
"""

# Importing a command's module registers it; the order is the order of `concertsim --help`.
from concertsim.cli import run  # noqa: F401  # isort: skip
from concertsim.cli import replay  # noqa: F401  # isort: skip
from concertsim.cli import explore  # noqa: F401  # isort: skip
from concertsim.cli import ablate  # noqa: F401  # isort: skip
from concertsim.cli import sweep  # noqa: F401  # isort: skip
from concertsim.cli import compare  # noqa: F401  # isort: skip
from concertsim.cli import migrate  # noqa: F401  # isort: skip
from concertsim.cli import inspect  # noqa: F401  # isort: skip
from concertsim.cli.app import app, main
from concertsim.cli.help_text import reflow_commands

reflow_commands(app)

__all__ = ["app", "main"]
