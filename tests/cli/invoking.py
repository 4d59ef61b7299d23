"""Running the command line in-process and reading its refusals, for the CLI tests."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from concertsim.cli import app

__all__ = ["cli", "flat", "refused"]


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


def refused(result: Result) -> str:
    """The one-line refusal of ``result``, checked: exit 2, on stderr, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error:")
    return flat(result.stderr)
