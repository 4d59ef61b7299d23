"""The building blocks of a scenario: party names, bounded field types, plain-text validation,
the frozen base model and the service-time distributions. Every model forbids unknown keys and
validates its values (see :mod:`concertsim.scenarios.schema`)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "SERVICE_NAMES", "DOMAIN_SERVICES", "PARTIES", "CHANNELS", "MAX_SECONDS", "PositiveSeconds",
    "NonNegativeSeconds", "Probability", "text_problem", "PlainLine", "PlainText", "FrozenModel",
    "Constant", "Exponential", "LogNormal", "Uniform", "Distribution", "MAX_REPLICAS", "replica_of",
]

SERVICE_NAMES = ("gateway", "reservation", "point", "queue", "concert", "data_platform")
DOMAIN_SERVICES = SERVICE_NAMES[1:]
PARTIES = (*SERVICE_NAMES, "broker", "client")
CHANNELS = ("request", "reply", "publish", "ack", "delivery", "offset_commit")
MAX_REPLICAS = 32


def replica_of(name: str) -> tuple[str, int] | None:
    """``("point", 2)`` for the replica name ``point#2`` of a domain service, else None."""
    service, hash_sign, index = name.partition("#")
    if not hash_sign or service not in DOMAIN_SERVICES or not index.isdigit() or index != str(int(index)):
        return None
    return service, int(index)

MAX_SECONDS = 1e7  # about four months of simulated time: longer is a typo, not a scenario
PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
NonNegativeSeconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


# Characters that make text display differently from what it is: the Unicode bidirectional
# controls (an override turns "exe.txt" into what reads as "txt.exe") and line separators.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` cannot stand in a report or a terminal as written, or None if it can.

    Refused: bidirectional controls, control characters (newline and tab only where ``multiline``)
    and the Unicode line and paragraph separators. Free text in a scenario ends up in HTML titles,
    Markdown and terminal output, where such characters reorder or hide what is shown.
    """
    for position, char in enumerate(text, start=1):
        if multiline and char in "\n\t":
            continue
        category = unicodedata.category(char)
        if char in _BIDI_CONTROLS:
            kind = "the bidirectional control character"
        elif category == "Cc":
            kind = "the control character"
        elif category in ("Zl", "Zp"):
            kind = "the line separator"
        else:
            continue
        name = unicodedata.name(char, "")
        return (
            f"contains {kind} U+{ord(char):04X}{f' ({name})' if name else ''} at position {position}: "
            "it would make the text display differently from what it is; remove it"
        )
    return None


def _plain_line(text: str) -> str:
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _plain_text(text: str) -> str:
    problem = text_problem(text, multiline=True)
    if problem:
        raise ValueError(problem)
    return text


PlainLine = Annotated[str, AfterValidator(_plain_line)]
"""One line of free text: no control, bidirectional or line-separator characters."""
PlainText = Annotated[str, AfterValidator(_plain_text)]
"""Free text that may span lines (newlines and tabs allowed), otherwise as :data:`PlainLine`."""


class FrozenModel(BaseModel):
    """Immutable, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# --- distributions -------------------------------------------------------------------------------


class Constant(FrozenModel):
    """Always ``value`` seconds."""

    kind: Literal["constant"] = "constant"
    value: NonNegativeSeconds


class Exponential(FrozenModel):
    """Memoryless, with the given mean."""

    kind: Literal["exponential"] = "exponential"
    mean: PositiveSeconds


class LogNormal(FrozenModel):
    """Right-skewed, like real latencies: ``median`` seconds, spread ``sigma`` (of the log)."""

    kind: Literal["lognormal"] = "lognormal"
    median: PositiveSeconds
    sigma: Annotated[float, Field(ge=0, le=3, allow_inf_nan=False)] = 0.5


class Uniform(FrozenModel):
    kind: Literal["uniform"] = "uniform"
    low: NonNegativeSeconds
    high: NonNegativeSeconds

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")
        return self


Distribution = Annotated[
    Constant | Exponential | LogNormal | Uniform, Field(discriminator="kind")
]
