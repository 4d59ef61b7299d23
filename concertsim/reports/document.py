"""A report as a list of blocks: what a report says, independent of how it is rendered.

The report modules (``run_report``, ``exploration_report``, ``ablation_report``) write each report's
content once as blocks; ``markdown.py`` and ``html.py`` render them. Every string in a block is
untrusted text: the renderers escape it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Heading", "Paragraph", "FileLink", "Verdict", "Table", "Code", "Image", "Block"]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class FileLink:
    """A paragraph that links a file written beside the report: ``before``, then the file's name
    as a link to it, then ``after`` (both as in a :class:`Paragraph`).

    ``file_name`` must be a bare name in the report's directory, so the link can only point there.
    """

    file_name: str
    before: str = ""
    after: str = ""

    def __post_init__(self) -> None:
        name = self.file_name
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"a report links only files beside it, not {name!r}")


@dataclass(frozen=True)
class Verdict:
    """A one-line outcome, shown green when ``ok`` and red when not."""

    ok: bool
    text: str


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


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


Block = Heading | Paragraph | FileLink | Verdict | Table | Code | Image
