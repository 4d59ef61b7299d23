"""Exit codes, and text made safe to print.

The contract (ARCHITECTURE.md, "CLI contract"; the README's table and ``concertsim --help`` say the
same):

====  ===========================================================================================
code  meaning
====  ===========================================================================================
0     no invariant is violated: each one judged holds, the rest are not applicable (``replay``: and
      the run matched its recording)
1     a violation or a counterexample was found (``replay``: the recorded violation reproduced)
2     bad input or an unusable environment: a scenario, an option, an unwritable ``--out``, a
      full disk, an unreachable scheduler, a run too large without ``--allow-large``; the
      message names the file, the field or the path and the reason, never a traceback
3     ``replay`` did not reproduce its recording: the trace hash or the violated set differs
130   interrupted (Ctrl-C), after saying how far it got; earlier results in ``--out`` are kept
143   terminated (SIGTERM), likewise
====  ===========================================================================================
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "EXIT_OK",
    "EXIT_VIOLATION",
    "EXIT_BAD_INPUT",
    "EXIT_NOT_REPRODUCED",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_CODES",
    "exit_codes_help",
    "printable",
    "Terminated",
]

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_REPRODUCED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "no invariant is violated: each one judged holds, the rest are not applicable (replay: and the "
              "run matched its recording)"),
    (EXIT_VIOLATION, "a violation or counterexample was found (replay: the recorded violation reproduced)"),
    (EXIT_BAD_INPUT, "bad input or an unusable environment (scenario, option, unwritable --out, full disk, "
                     "unreachable scheduler, a run too large without --allow-large)"),
    (EXIT_NOT_REPRODUCED, "replay did not reproduce its recording (trace hash or violated set differs)"),
    (EXIT_INTERRUPTED, "interrupted by Ctrl-C (earlier results in --out are kept)"),
    (EXIT_TERMINATED, "terminated by SIGTERM (likewise)"),
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be so that the same clean-up runs (exit code 143)."""


def exit_codes_help() -> str:
    """The exit codes as one paragraph for ``--help``."""
    return "Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES) + "."


_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: str) -> str:
    """``text`` with every control, bidirectional and line-separator character except the newline
    shown as an escape (``\\x1b``, ``\\u202e``), so that a file name or a value echoed in a
    message cannot move the cursor, clear the screen or reorder the line."""
    out = []
    for char in text:
        if char == "\n":
            out.append(char)
        elif char in _BIDI or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
