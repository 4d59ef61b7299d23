"""A report as a list of blocks, rendered once to Markdown and once to self-contained HTML.

The content of a report is written once (``concertsim.reports.report``); this module knows the two
formats. Every string is treated as untrusted text: HTML output escapes all of it, Markdown output
escapes what would be read as markup or raw HTML.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

__all__ = ["Heading", "Paragraph", "Verdict", "Table", "Code", "Image", "Block", "to_markdown", "to_html"]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


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


Block = Heading | Paragraph | Verdict | Table | Code | Image


def _md_text(text: str) -> str:
    return str(text).replace("<", "&lt;").replace(">", "&gt;")


def _md_cell(text: str) -> str:
    return _md_text(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {_md_text(block.text)}")
        elif isinstance(block, Paragraph):
            out.append(_md_text(block.text))
        elif isinstance(block, Verdict):
            out.append(f"**{'✅' if block.ok else '❌'} {_md_text(block.text)}**")
        elif isinstance(block, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            out.append("|" + "---|" * len(block.header))
            out.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows)
        elif isinstance(block, Code):
            fence = "````" if "```" in block.text else "```"
            out.append(f"{fence}{block.language}\n{block.text}\n{fence}")
        elif isinstance(block, Image):
            out.append(f"![{_md_cell(block.title)}]({block.file_name})\n\n*{_md_text(block.caption)}*")
        out.append("")
    return "\n".join(out)


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .15em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: .8em; overflow-x: auto; font-size: .85em; }
.ok { color: #1a7f37; font-weight: bold; font-size: 1.1em; }
.bad { color: #cf222e; font-weight: bold; font-size: 1.1em; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
"""


def to_html(blocks: list[Block], title: str) -> str:
    """A complete HTML page: inline style, images embedded as data URIs, no external resource."""
    e = html.escape
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            body.append(f"<h{level}>{e(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{e(block.text)}</p>")
        elif isinstance(block, Verdict):
            body.append(f'<p class="{"ok" if block.ok else "bad"}">{"✔" if block.ok else "✘"} {e(block.text)}</p>')
        elif isinstance(block, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in block.header)
            rows = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Code):
            body.append(f'<pre class="{e(block.language)}">{e(block.text)}</pre>')
        elif isinstance(block, Image):
            data = base64.b64encode(block.png).decode("ascii")
            body.append(
                f'<figure><img alt="{e(block.title)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{e(block.caption)}</figcaption></figure>"
            )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
