"""Links in a report lead only to files inside its own directory: a bare name or a relative path
down into it, never up (``..``), never absolute, never elsewhere; in both renderings."""

from __future__ import annotations

import pytest

from concertsim.reports.document.blocks import CodeSpan, FileLink, Link, Table, report_relative_path
from concertsim.reports.document.html import to_html
from concertsim.reports.document.markdown import to_markdown

INSIDE = ["counterexample.yaml", "cells/compensation-false-sync.yaml", "a/b/c d.mmd", "..hidden", "x..y/z"]
OUTSIDE = [
    "", ".", "..", "../counterexample.yaml", "cells/../../etc/passwd", "cells/..", "/etc/passwd", "//host/share",
    "C:/Windows", "c:x", "dir\\file", "a//b", "./a", "a/./b", "a/", "line\nbreak", "tab\there", "del\x7f",
]


@pytest.mark.parametrize("path", INSIDE)
def test_a_path_inside_the_report_directory_is_allowed(path: str) -> None:
    assert report_relative_path(path) == path
    assert FileLink(path).file_name == path
    assert Link(path).path == path


@pytest.mark.parametrize("path", OUTSIDE)
def test_a_path_that_leads_out_of_the_report_directory_is_refused(path: str) -> None:
    for make in (report_relative_path, FileLink, Link):
        with pytest.raises(ValueError, match="inside its own directory"):
            make(path)


def test_a_relative_link_keeps_its_slashes_and_escapes_the_rest() -> None:
    link = FileLink("cells/a b<c>.yaml", "see ", "")
    assert to_markdown([link]) == "see [cells/a b&lt;c&gt;.yaml](cells/a%20b%3Cc%3E.yaml)\n"
    assert '<a href="cells/a%20b%3Cc%3E.yaml">cells/a b&lt;c&gt;.yaml</a>' in to_html([link], "t")


def test_a_table_cell_holds_a_link_and_a_command() -> None:
    table = Table(["cell"], [[("✔ caught. ", Link("cells/x.yaml", "Counterexample"), ", replay: ",
                               CodeSpan("concertsim replay cells/x.yaml | tee"))]])
    assert ("| ✔ caught. [Counterexample](cells/x.yaml), replay: `concertsim replay cells/x.yaml \\| tee` |"
            in to_markdown([table]))
    page = to_html([table], "t")
    assert ('<td><span class="ok">✔ caught. </span><a href="cells/x.yaml">Counterexample</a>, replay: '
            "<code>concertsim replay cells/x.yaml | tee</code></td>") in page
