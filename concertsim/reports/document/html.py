"""A report's blocks as one self-contained HTML page.

The page opens from disk with no network: the style is inline, figures are embedded as base64 PNG
data URIs, and nothing is loaded from elsewhere (no script at all). A diagram is shown as the drawing
the report made of it, with a link to its mermaid source beside the report: mermaid's script cannot
be loaded offline, and a page of diagram source is not a diagram.

Every string is escaped with ``html.escape``: scenario names and descriptions are user input, and
trace and violation texts carry whatever the scenario put in them.

Two presentation conventions, so the content stays format-neutral: a table cell that starts with ✔
is coloured as a promise kept, one that starts with ✘ as a promise broken, one that starts with
``n/a`` is muted as a promise that could not be judged; a `backticked` span in a paragraph is set as
code.
"""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from urllib.parse import quote

from concertsim.reports.document.blocks import (
    NOT_APPLICABLE,
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

__all__ = ["to_html", "to_html_fragment"]

_STYLE = """
:root { --ok: #1a7f37; --bad: #cf222e; --ink: #1f2328; --muted: #59636e; --rule: #d1d9e0; }
body { font: 15px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif; color: var(--ink);
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.8em; border-bottom: 2px solid var(--rule); padding-bottom: .25em; }
h2 { font-size: 1.4em; border-bottom: 1px solid var(--rule); padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.15em; margin-top: 1.6em; }
h4 { font-size: 1em; margin-top: 1.4em; }
p { margin: .6em 0; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid var(--rule); padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
td.ok, td span.ok { color: var(--ok); font-weight: 600; }
td.bad, td span.bad { color: var(--bad); font-weight: 600; }
td.na, td span.na { color: var(--muted); font-style: italic; }
details { margin: .6em 0 1.2em; } summary { cursor: pointer; color: var(--muted); }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .88em; }
code { background: #eff1f3; padding: .1em .3em; border-radius: 3px; }
pre { background: #f6f8fa; border: 1px solid var(--rule); padding: .8em; overflow-x: auto;
      line-height: 1.35; }
.verdict { font-size: 1.15em; font-weight: 600; padding: .5em .8em; border-radius: 6px; border: 1px solid; }
.verdict.ok { color: var(--ok); background: #dafbe1; border-color: #aceebb; }
.verdict.bad { color: var(--bad); background: #ffebe9; border-color: #ffcecb; }
nav { background: #f6f8fa; border: 1px solid var(--rule); border-radius: 6px; padding: .4em 1em;
      font-size: .9em; }
nav ol { margin: .3em 0; padding-left: 1.4em; columns: 2; }
nav a, nav a:visited { color: #0969da; text-decoration: none; }
a, a:visited { color: #0969da; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: .9em; margin-top: .3em; }
.diagram-note { color: var(--muted); font-size: .85em; margin-bottom: .2em; }
"""

_CODE_SPAN = re.compile(r"`([^`]+)`")


def _inline(text: object) -> str:
    """Escaped text, with `backticked` spans set as code (escaping first, so they stay inert)."""
    return _CODE_SPAN.sub(r"<code>\1</code>", html.escape(str(text)))


def _link(path: str, label: str) -> str:
    return f'<a href="{html.escape(quote(path))}">{html.escape(label)}</a>'


def _mark(text: str) -> str:
    if text.startswith(NOT_APPLICABLE):
        return "na"
    return "ok" if text.startswith("✔") else "bad" if text.startswith("✘") else ""


def _cell(cell: Cell) -> str:
    """A table cell; one that starts with ✔ or ✘ is coloured as a promise kept or broken, one that
    starts with ``n/a`` muted (the whole cell, or its first part when links or code follow it)."""
    parts = cell_parts(cell)
    first = parts[0] if parts and isinstance(parts[0], str) else ""
    mark = _mark(first)
    shown = []
    for number, part in enumerate(parts):
        if isinstance(part, Link):
            shown.append(_link(part.path, part.label))
        elif isinstance(part, CodeSpan):
            shown.append(f"<code>{html.escape(part.text)}</code>")
        elif number == 0 and mark and len(parts) > 1:
            shown.append(f'<span class="{mark}">{html.escape(str(part))}</span>')
        else:
            shown.append(html.escape(str(part)))
    marker = f' class="{mark}"' if mark and len(parts) == 1 else ""
    return f"<td{marker}>{''.join(shown)}</td>"


def _image(image: Image, source_link: str = "") -> str:
    data = base64.b64encode(image.png).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(image.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(image.caption)}{source_link}</figcaption></figure>"
    )


def _anchor(text: str, taken: Counter[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    taken[slug] += 1
    return slug if taken[slug] == 1 else f"{slug}-{taken[slug]}"


def _block(block: Block, anchor: str | None) -> str:
    e = html.escape
    if isinstance(block, Heading):
        level = min(max(block.level, 1), 6)
        ident = f' id="{e(anchor)}"' if anchor else ""
        return f"<h{level}{ident}>{e(block.text)}</h{level}>"
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, FileLink):
        return f"<p>{_inline(block.before)}{_link(block.file_name, block.file_name)}{_inline(block.after)}</p>"
    if isinstance(block, Verdict):
        state = "ok" if block.ok else "bad"
        return f'<p class="verdict {state}">{"✔" if block.ok else "✘"} {e(block.text)}</p>'
    if isinstance(block, Table):
        head = "".join(f"<th>{e(str(h))}</th>" for h in block.header)
        rows = "\n".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    if isinstance(block, Code):
        return f'<pre class="{e(block.language)}">{e(block.text.rstrip())}</pre>'
    if isinstance(block, Image):
        return _image(block)
    if isinstance(block, Diagram):
        source = _link(block.source_file, block.source_file)
        if block.drawing is not None:
            return _image(block.drawing, f" Its sequence diagram in mermaid: {source}.")
        if block.drawn_elsewhere:
            return f'<p class="diagram-note">Drawn {e(block.drawn_elsewhere)}; its sequence diagram in mermaid: {source}.</p>'
        return f'<p class="diagram-note">Sequence diagram (mermaid source, not drawn here): {source}.</p>'
    if isinstance(block, Folded):
        inner = "\n".join(_block(b, None) for b in block.blocks)
        return f"<details><summary>{_inline(block.summary)}</summary>\n{inner}\n</details>"
    raise TypeError(f"not a report block: {block!r}")


_FRAGMENT_STYLE = """
.concertsim .verdict { font-weight: 600; padding: .4em .7em; border-radius: 6px; border: 1px solid; }
.concertsim .verdict.ok { color: #1a7f37; background: #dafbe1; border-color: #aceebb; }
.concertsim .verdict.bad { color: #cf222e; background: #ffebe9; border-color: #ffcecb; }
.concertsim td.ok, .concertsim td span.ok { color: #1a7f37; font-weight: 600; }
.concertsim td.bad, .concertsim td span.bad { color: #cf222e; font-weight: 600; }
.concertsim td.na, .concertsim td span.na { color: #59636e; font-style: italic; }
.concertsim figure { margin: .6em 0; } .concertsim figure img { max-width: 100%; }
.concertsim figcaption { color: #59636e; font-size: .9em; }
"""


def to_html_fragment(blocks: list[Block]) -> str:
    """``blocks`` as one ``<div>`` to embed in another page (a notebook's output): the same
    rendering as :func:`to_html`, with a style scoped to the fragment and no contents list."""
    body = "\n".join(_block(block, None) for block in blocks)
    return f'<div class="concertsim"><style>{_FRAGMENT_STYLE}</style>\n{body}\n</div>'


def to_html(blocks: list[Block], title: str) -> str:
    """A complete HTML page of ``blocks`` with ``title``: a contents list of the second-level
    headings after the first heading, inline style, images embedded, no external resource."""
    taken: Counter[str] = Counter()
    anchors = [_anchor(b.text, taken) if isinstance(b, Heading) and b.level == 2 else None for b in blocks]
    sections = [
        (a, b.text) for a, b in zip(anchors, blocks, strict=True) if a is not None and isinstance(b, Heading)
    ]
    body = [_block(block, anchor) for block, anchor in zip(blocks, anchors, strict=True)]
    if len(sections) > 2:
        items = "".join(
            f'<li><a href="#{html.escape(a)}">{html.escape(text)}</a></li>' for a, text in sections
        )
        contents = f"<nav><strong>Contents</strong><ol>{items}</ol></nav>"
        first_section = next(i for i, a in enumerate(anchors) if a is not None)
        body.insert(first_section, contents)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
