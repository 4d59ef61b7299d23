"""Each command's --help is wrapped by the terminal, never at the source file's line breaks."""

from __future__ import annotations

import inspect

import pytest
from typer.testing import CliRunner

from concertsim.cli import app
from concertsim.cli.help_text import paragraphs_unwrapped

COMMANDS = [command.name or command.callback.__name__ for command in app.registered_commands]


def test_paragraphs_are_joined_and_kept_apart() -> None:
    text = """First line
        goes on here.

        Second paragraph,
        also two lines.
    """
    assert paragraphs_unwrapped(text) == "First line goes on here.\n\nSecond paragraph, also two lines."


@pytest.mark.parametrize("name", COMMANDS)
def test_each_paragraph_of_the_help_is_one_line_on_a_wide_terminal(name: str) -> None:
    command = next(c for c in app.registered_commands if (c.name or c.callback.__name__) == name)
    done = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "4000"})
    assert done.exit_code == 0, done.output
    shown = [line.strip() for line in done.output.splitlines()]
    for paragraph in inspect.cleandoc(command.callback.__doc__).split("\n\n"):
        assert " ".join(paragraph.split()) in shown, paragraph
