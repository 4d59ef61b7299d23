"""Writing a report: its blocks rendered to ``report.md`` (``markdown.py``) and ``report.html``
(``html.py``) through an :class:`~concertsim.reports.results.directory.OutputDir`, with each image
and each diagram's source as its own file."""

from __future__ import annotations

from concertsim.reports.document.blocks import Block, Diagram, Folded, Image
from concertsim.reports.document.html import to_html
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.results.directory import OutputDir

__all__ = ["write_report"]


def write_report(output: OutputDir, blocks: list[Block], title: str) -> None:
    """Write ``blocks`` into ``output`` as ``report.md`` and ``report.html`` (titled ``title``),
    each image block as its PNG file and each diagram's mermaid source as its file; each file
    atomically, each once."""
    written: set[str] = set()

    def write(name: str, data: bytes) -> None:
        if name not in written:
            written.add(name)
            output.write_bytes_with(name, lambda out: out.write(data))

    def unfolded(blocks: list[Block] | tuple[Block, ...]) -> list[Block]:
        return [inner for block in blocks
                for inner in (unfolded(block.blocks) if isinstance(block, Folded) else [block])]

    for block in unfolded(blocks):
        if isinstance(block, Image):
            write(block.file_name, block.png)
        elif isinstance(block, Diagram):
            write(block.source_file, block.source.encode("utf-8"))
            if block.drawing is not None:
                write(block.drawing.file_name, block.drawing.png)
    output.write_text("report.md", to_markdown(blocks))
    output.write_text("report.html", to_html(blocks, title))
