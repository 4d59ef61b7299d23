"""Command help that the terminal wraps, not the source file.

Typer shows a command's docstring as its ``--help`` and keeps the line breaks of every paragraph
after the first, so text wrapped at 100 columns in the source comes out ragged in a narrower
terminal (a line, then a word or two, then a line). :func:`reflow_commands` gives each command
its docstring with the paragraphs joined into single lines, for the terminal to wrap at its width.
"""

from __future__ import annotations

import inspect

import typer

__all__ = ["paragraphs_unwrapped", "reflow_commands"]


def paragraphs_unwrapped(text: str) -> str:
    """``text`` with the line breaks inside each paragraph replaced by spaces; paragraphs stay
    apart (a blank line between them)."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in paragraphs)


def reflow_commands(app: typer.Typer) -> None:
    """Give every command of ``app`` that has no ``help`` of its own its docstring, unwrapped."""
    for command in app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = paragraphs_unwrapped(command.callback.__doc__)
