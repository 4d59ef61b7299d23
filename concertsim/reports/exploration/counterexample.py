"""What the exploration and ablation reports say about a counterexample: how it was shrunk, whether
the deletion pass proved it 1-minimal, which reductions it kept, and the file that replays it.

1-minimal is meant as ``concertsim.search.minimize`` defines it: no single fault, user or filter
clause can be removed, and no fault's duration halved, with the run still failing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from concertsim.reports.document.blocks import Block, Code, FileLink, Paragraph, Table
from concertsim.reports.document.formatting import plural

if TYPE_CHECKING:
    from concertsim.exploration import Exploration

__all__ = [
    "minimality_sentence",
    "minimality_phrase",
    "minimality_cell",
    "simulations",
    "shrinking_sentence",
    "deletion_pass_blocks",
    "replay_blocks",
]


def minimality_sentence(exploration: Exploration) -> str:
    """One sentence: whether the counterexample is proven 1-minimal, and on how many checks."""
    done = exploration.minimization
    if done is None:
        return "Not proven 1-minimal: no deletion pass ran on this counterexample."
    if done.one_minimal and done.checked == 0:
        return "1-minimal: with no fault and a single user, nothing is left to remove."
    if done.one_minimal:
        return ("1-minimal: removing any one fault, user or filter clause, or halving any fault's duration, "
                f"makes the run pass ({plural(done.checked, 'reduction')} checked).")
    return (f"Not proven 1-minimal: the deletion pass spent its budget of {plural(done.runs, 'run')} before it "
            f"had tried every reduction ({plural(done.checked, 'reduction')} of the final schedule checked so "
            "far, each of which makes the run pass). A larger budget may find a smaller schedule.")


def minimality_phrase(exploration: Exploration) -> str:
    """A few words for within a sentence: "1-minimal (N reductions checked)" or why it is not
    proven."""
    done = exploration.minimization
    if done is None:
        return "not proven 1-minimal (no deletion pass ran)"
    if done.one_minimal:
        return f"1-minimal ({plural(done.checked, 'reduction')} checked)"
    return "not proven 1-minimal (the deletion pass spent its budget)"


def minimality_cell(exploration: Exploration) -> str:
    """A table cell: "✔ yes" with the reductions checked, "not proven" and why, or "-" when the
    search found no counterexample."""
    done = exploration.minimization
    if exploration.counterexample is None:
        return "-"
    if done is None:
        return "not proven: no deletion pass"
    if done.one_minimal:
        return f"✔ yes, {plural(done.checked, 'reduction')} checked"
    return "not proven: budget spent"


def _reduction_text(description: str) -> str:
    return description.replace("->", "→")


def simulations(exploration: Exploration) -> tuple[int, int]:
    """The exploration's simulations as (search, shrinking): the distinct examples tried, and the
    runs of the deletion pass that shrank the first failure."""
    search = exploration.generated - exploration.repeated
    return search, exploration.shrink_runs


def shrinking_sentence(exploration: Exploration) -> str:
    """How the failing example became the minimal one, in a sentence."""
    if exploration.minimization is None:
        return "It was not shrunk: a smaller schedule may fail as well."
    return ("A deletion pass shrank the first failing example: it tried taking away each part of it in turn "
            "(a fault, users, a filter clause, time) and kept every reduction that still failed.")


def deletion_pass_blocks(exploration: Exploration) -> list[Block]:
    """What the deletion pass removed, step by step."""
    done = exploration.minimization
    if done is None:
        return []
    if not done.kept:
        return [Paragraph("The deletion pass found nothing to remove: the first failing example was already "
                          "1-minimal.")]
    rows = [[str(step), _reduction_text(description)] for step, description in enumerate(done.kept, 1)]
    return [
        Paragraph(f"The deletion pass kept {plural(len(done.kept), 'reduction')}, each of which still broke "
                  "the promise (fault numbers as they stood at that step):"),
        Table(["step", "reduction kept"], rows),
    ]


def replay_blocks(file_name: str, replays: str = "") -> list[Block]:
    """A link to the counterexample file beside the report, then the command that replays it;
    ``replays`` (a sentence) may say what a replay gives."""
    after = f". {replays} Replay it with:" if replays else ". Replay it with:"
    return [FileLink(file_name, "Counterexample file: ", after), Code(f"concertsim replay {file_name}", "sh")]
