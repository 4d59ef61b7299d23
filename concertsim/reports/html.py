"""A report's blocks as one self-contained HTML page.

The page opens from disk with no network: the style is inline, figures are embedded as base64 PNG
data URIs, and nothing is loaded from elsewhere (no script at all). A mermaid diagram is shown as its
source, since mermaid's script cannot be loaded offline; the report places the rendered message-flow
figure next to it where it has one.

Every string is escaped with ``html.escape``: scenario names and descriptions are user input, and
trace and violation texts carry whatever the scenario put in them.

Two presentation conventions, so the content stays format-neutral: a table cell that starts with ✔
is coloured as a promise kept, one that starts with ✘ as a promise broken; a `backticked` span in a
paragraph is set as code.
"""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from urllib.parse import quote

from concertsim.reports.document import Block, Code, FileLink, Heading, Image, Paragraph, Table, Verdict

__all__ = ["to_html"]

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
td.ok { color: var(--ok); font-weight: 600; }
td.bad { color: var(--bad); font-weight: 600; }
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


def _cell(text: object) -> str:
    value = str(text)
    marker = ' class="ok"' if value.startswith("✔") else ' class="bad"' if value.startswith("✘") else ""
    return f"<td{marker}>{html.escape(value)}</td>"


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
        link = f'<a href="{e(quote(block.file_name))}">{e(block.file_name)}</a>'
        return f"<p>{_inline(block.before)}{link}{_inline(block.after)}</p>"
    if isinstance(block, Verdict):
        state = "ok" if block.ok else "bad"
        return f'<p class="verdict {state}">{"✔" if block.ok else "✘"} {e(block.text)}</p>'
    if isinstance(block, Table):
        head = "".join(f"<th>{e(str(h))}</th>" for h in block.header)
        rows = "\n".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    if isinstance(block, Code):
        if block.language == "mermaid":
            return (
                '<div class="diagram"><p class="diagram-note">Sequence diagram, mermaid source: it renders '
                "as a drawing in report.md on a code host.</p>"
                f'<pre class="mermaid-source">{e(block.text.rstrip())}</pre></div>'
            )
        return f'<pre class="{e(block.language)}">{e(block.text.rstrip())}</pre>'
    if isinstance(block, Image):
        data = base64.b64encode(block.png).decode("ascii")
        return (
            f'<figure><img alt="{e(block.title)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{e(block.caption)}</figcaption></figure>"
        )
    raise TypeError(f"not a report block: {block!r}")


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
