"""A report as a list of blocks: what a report says, independent of how it is rendered.

Each report kind (``run/report.py``, ``exploration/report.py``, ...) writes its report's content
once as blocks; ``markdown.py`` and ``html.py`` render them. Every string in a block is
untrusted text: the renderers escape it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Heading", "Paragraph", "FileLink", "Verdict", "Table", "Code", "Image", "Diagram", "Block",
    "Link", "CodeSpan", "Folded", "Inline", "Cell", "cell_parts", "report_relative_path", "NOT_APPLICABLE", "not_applicable_text",
]

_DRIVE = re.compile(r"^[A-Za-z]:")


def report_relative_path(path: str) -> str:
    """``path`` if it names a file inside the report's directory (``name`` or ``dir/name``), else
    ValueError: no absolute path, drive, backslash, ``.`` or ``..`` part, empty part or control
    character, so a link can only lead to a file the report wrote beside itself."""
    parts = path.split("/")
    if (
        not path or path.startswith("/") or _DRIVE.match(path) or "\\" in path
        or any(part in ("", ".", "..") for part in parts)
        or any(ord(char) < 32 or ord(char) == 127 for char in path)
    ):
        raise ValueError(f"a report links only files inside its own directory, not {path!r}")
    return path


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class FileLink:
    """A paragraph that links a file written with the report: ``before``, then the file's path
    as a link to it, then ``after`` (both as in a :class:`Paragraph`).

    ``file_name`` is a path relative to the report's directory and inside it (see
    :func:`report_relative_path`), so the link can only point there.
    """

    file_name: str
    before: str = ""
    after: str = ""

    def __post_init__(self) -> None:
        report_relative_path(self.file_name)


@dataclass(frozen=True)
class Link:
    """A link, within a table cell, to a file inside the report's directory (see
    :func:`report_relative_path`); ``text`` is shown, the path itself if empty."""

    path: str
    text: str = ""

    def __post_init__(self) -> None:
        report_relative_path(self.path)

    @property
    def label(self) -> str:
        return self.text or self.path


@dataclass(frozen=True)
class CodeSpan:
    """Code within a table cell, such as a command to run."""

    text: str


Inline = str | Link | CodeSpan
Cell = Inline | tuple[Inline, ...]
"""A table cell: text, a link, code, or several of them in a row."""


def cell_parts(cell: Cell) -> tuple[Inline, ...]:
    """The parts of a cell, in order."""
    return cell if isinstance(cell, tuple) else (cell,)


@dataclass(frozen=True)
class Verdict:
    """A one-line outcome, shown green when ``ok`` and red when not."""

    ok: bool
    text: str


NOT_APPLICABLE = "n/a"
"""How a report shows a promise that could not be judged: neither kept nor broken."""


def not_applicable_text(reason: str | None) -> str:
    """A table cell for a promise that could not be judged: ``n/a: <reason>`` (shown muted)."""
    return f"{NOT_APPLICABLE}: {reason}" if reason else NOT_APPLICABLE


@dataclass(frozen=True)
class Table:
    """Rows of cells under a header. A cell that starts with ✔ reads as a promise kept, one that
    starts with ✘ as a promise broken, one that starts with ``n/a`` as a promise not judged."""

    header: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Code:
    text: str
    language: str = "text"


@dataclass(frozen=True)
class Image:
    file_name: str
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Diagram:
    """A diagram of which the report shows a drawing: ``drawing`` (an image the report draws
    itself) and, written beside the report as ``source_file``, its ``source`` in mermaid.

    The Markdown report shows the source as a mermaid block, which code hosts draw, and the
    drawing; the HTML page shows the drawing and links the source, never the source itself (it
    works offline, and mermaid's script cannot load there)."""

    source: str
    source_file: str
    drawing: Image | None = None
    drawn_elsewhere: str = ""
    """Where the report shows its drawing instead, if not here (e.g. "at the top of this report")."""

    def __post_init__(self) -> None:
        report_relative_path(self.source_file)


@dataclass(frozen=True)
class Folded:
    """Blocks a reader opens on demand under a one-line ``summary``: in HTML a ``<details>``
    element, in Markdown the same element, which code hosts show folded too."""

    summary: str
    blocks: tuple[Block, ...]


Block = Heading | Paragraph | FileLink | Verdict | Table | Code | Image | Diagram | Folded
