"""A report's blocks as GitHub-flavoured Markdown (mermaid code blocks render as diagrams there).

Every string is treated as untrusted text: angle brackets become entities, so a scenario name such
as ``<script>`` shows as written and never as markup, and table cells escape ``|`` and newlines so
a value cannot break its row.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from concertsim.reports.document.blocks import (
    Block,
    Cell,
    Code,
    CodeSpan,
    Diagram,
    FileLink,
    Folded,
    Heading,
    Image,
    Link,
    Paragraph,
    Table,
    Verdict,
    cell_parts,
)

__all__ = ["to_markdown", "markdown_text"]

_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")  # not str.split(): a no-break space is kept on purpose
_BLOCK_START = re.compile(r"(#{1,6}|[*+-]|\d{1,9}[.)])(\s|$)")


def markdown_text(text: object) -> str:
    """``text`` with anything a Markdown renderer would read as raw HTML made inert."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    return _ASCII_SPACE.sub(" ", text).strip(" ")


def _line(text: object) -> str:
    """``text`` as one line of Markdown that cannot start a heading, list or quote."""
    return _not_a_block_start(_one_line(markdown_text(text)))


def _not_a_block_start(line: str) -> str:
    """``line`` with a leading heading, list or quote marker escaped."""
    start = _BLOCK_START.match(line)
    if start is None:
        return line
    marker = start.group(1)
    if marker[0].isdigit():  # "12. text" would start a numbered list: escape the dot
        return marker[:-1] + "\\" + line[len(marker) - 1 :]
    return "\\" + line


def _cell_text(text: object) -> str:
    return _ASCII_SPACE.sub(" ", markdown_text(text).replace("|", "\\|"))


def _link_label(text: str) -> str:
    return markdown_text(text).replace("[", "\\[").replace("]", "\\]")


def _cell(cell: Cell) -> str:
    """A table cell: one line, ``|`` escaped (a cell cannot start a block, so nothing else is);
    links and code in it as Markdown links and code spans."""
    shown = []
    for part in cell_parts(cell):
        if isinstance(part, Link):
            shown.append(f"[{_cell_text(_link_label(part.label))}]({quote(part.path)})")
        elif isinstance(part, CodeSpan):
            shown.append(_code_span(_cell_text(part.text)))
        else:
            shown.append(_cell_text(part))
    return "".join(shown).strip(" ") or " "


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside ``text``."""
    return "`" * max(3, _longest_backtick_run(text) + 1)


def _code_span(text: str) -> str:
    """``text`` as an inline code span, delimited by more backticks than it holds."""
    ticks = "`" * (_longest_backtick_run(text) + 1)
    padding = " " if "`" in text else ""
    return f"{ticks}{padding}{text}{padding}{ticks}"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * min(max(block.level, 1), 6)} {_line(block.text)}"
    if isinstance(block, Paragraph):
        return _line(block.text)
    if isinstance(block, FileLink):
        label = _link_label(block.file_name)
        around = [_ASCII_SPACE.sub(" ", markdown_text(text)) for text in (block.before, block.after)]
        return _not_a_block_start(f"{around[0]}[{label}]({quote(block.file_name)}){around[1]}".strip(" "))
    if isinstance(block, Verdict):
        return f"**{'✅' if block.ok else '❌'} {_line(block.text)}**"
    if isinstance(block, Table):
        lines = ["| " + " | ".join(_cell(h) for h in block.header) + " |", "|" + "---|" * len(block.header)]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines)
    if isinstance(block, Code):
        fence = _fence(block.text)
        return f"{fence}{block.language}\n{block.text.rstrip()}\n{fence}"
    if isinstance(block, Image):
        alt = _cell(block.title).replace("[", "\\[").replace("]", "\\]")
        return f"![{alt}]({quote(block.file_name)})\n\n*{_line(block.caption)}*"
    if isinstance(block, Diagram):
        source = _block(Code(block.source, "mermaid"))
        link = f"Its sequence diagram ([{_link_label(block.source_file)}]({quote(block.source_file)})):"
        return "\n\n".join([*([_block(block.drawing)] if block.drawing else []), link, source])
    if isinstance(block, Folded):
        inner = "\n\n".join(_block(b) for b in block.blocks)
        return f"<details><summary>{_line(block.summary)}</summary>\n\n{inner}\n\n</details>"
    raise TypeError(f"not a report block: {block!r}")


def to_markdown(blocks: list[Block]) -> str:
    """The whole document: blocks separated by blank lines, ending in a newline."""
    return "\n\n".join(_block(block) for block in blocks) + "\n"
