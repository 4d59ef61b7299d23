"""Domain errors: a refused business rule, with the facts in the message.

Each error is definite: the operation did nothing. The runtime maps them to failed replies (a client
sees ``fail``, never ``unknown``) and never retries them.
"""

from __future__ import annotations

__all__ = [
    "DOMAIN_CODES",
    "DomainError",
    "InvalidAmount",
    "InsufficientPoints",
    "UnknownAccount",
    "DeductionCancelled",
    "AlreadyRefunded",
    "UnknownSeat",
    "SeatUnavailable",
    "HoldLimitReached",
    "SalesNotOpen",
    "ReservationNotFound",
    "NotReservationOwner",
    "HoldExpired",
    "ReservationClosed",
    "Unauthenticated",
    "Forbidden",
    "NotTokenOwner",
    "UnreadableEvent",
    "TokenNotFound",
    "TokenNotActive",
]


class DomainError(Exception):
    """A business rule refused the operation. ``code`` is a stable machine-readable name."""

    code = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAmount(DomainError):
    code = "invalid-amount"

    def __init__(self, amount: int) -> None:
        super().__init__(f"InvalidAmount(amount={amount}): amounts must be positive")
        self.amount = amount


class InsufficientPoints(DomainError):
    code = "insufficient-points"

    def __init__(self, user: int, balance: int, needed: int) -> None:
        super().__init__(f"InsufficientPoints(user={user}, balance={balance}, needed={needed})")
        self.user, self.balance, self.needed = user, balance, needed


class UnknownAccount(DomainError):
    code = "unknown-account"

    def __init__(self, user: int) -> None:
        super().__init__(f"UnknownAccount(user={user})")
        self.user = user


class DeductionCancelled(DomainError):
    """A refund for this reservation arrived first and left a tombstone (seed 4.1, 4.2.2)."""

    code = "deduction-cancelled"

    def __init__(self, reservation: str) -> None:
        super().__init__(
            f"DeductionCancelled(reservation={reservation}): the payment was already cancelled"
        )
        self.reservation = reservation


class AlreadyRefunded(DomainError):
    code = "already-refunded"

    def __init__(self, use: str) -> None:
        super().__init__(f"AlreadyRefunded(use={use})")
        self.use = use


class UnknownSeat(DomainError):
    code = "unknown-seat"

    def __init__(self, date: int, seat: int) -> None:
        super().__init__(f"UnknownSeat(date={date}, seat={seat})")
        self.date, self.seat = date, seat


class SeatUnavailable(DomainError):
    code = "seat-unavailable"

    def __init__(self, date: int, seat: int, status: str) -> None:
        super().__init__(f"SeatUnavailable(date={date}, seat={seat}, status={status})")
        self.date, self.seat, self.status = date, seat, status


class HoldLimitReached(DomainError):
    """The user already has as many open holds as a user may have at once."""

    code = "hold-limit-reached"

    def __init__(self, user: int, open_holds: int, limit: int) -> None:
        super().__init__(f"HoldLimitReached(user={user}, open_holds={open_holds}, limit={limit})")
        self.user, self.open_holds, self.limit = user, open_holds, limit


class SalesNotOpen(DomainError):
    """The date's sale has not opened yet."""

    code = "sales-not-open"

    def __init__(self, date: int, opens_at: float, now: float) -> None:
        super().__init__(f"SalesNotOpen(date={date}, opens_at={opens_at:.3f}, now={now:.3f})")
        self.date, self.opens_at, self.now = date, opens_at, now


class ReservationNotFound(DomainError):
    code = "reservation-not-found"

    def __init__(self, reservation: str) -> None:
        super().__init__(f"ReservationNotFound(reservation={reservation})")
        self.reservation = reservation


class NotReservationOwner(DomainError):
    code = "not-owner"

    def __init__(self, reservation: str, user: int) -> None:
        super().__init__(f"NotReservationOwner(reservation={reservation}, user={user})")
        self.reservation, self.user = reservation, user


class HoldExpired(DomainError):
    code = "hold-expired"

    def __init__(self, reservation: str, expired_at: float, now: float) -> None:
        super().__init__(
            f"HoldExpired(reservation={reservation}, expired_at={expired_at:.3f}, now={now:.3f})"
        )
        self.reservation, self.expired_at, self.now = reservation, expired_at, now


class ReservationClosed(DomainError):
    """The reservation already reached a terminal state other than the one asked for."""

    code = "reservation-closed"

    def __init__(self, reservation: str, status: str) -> None:
        super().__init__(f"ReservationClosed(reservation={reservation}, status={status})")
        self.reservation, self.status = reservation, status


class Unauthenticated(DomainError):
    """The request carries no credential the gateway can verify."""

    code = "unauthenticated"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Unauthenticated({reason})")
        self.reason = reason


class Forbidden(DomainError):
    """The caller asked to act as, or read the data of, another user."""

    code = "forbidden"

    def __init__(self, caller: int, named: object) -> None:
        super().__init__(f"Forbidden(caller={caller}, named_user={named})")
        self.caller, self.named = caller, named


class NotTokenOwner(DomainError):
    """The queue token belongs to another user."""

    code = "not-owner"

    def __init__(self, token: str, user: int) -> None:
        super().__init__(f"NotTokenOwner(token={token}, user={user})")
        self.token, self.user = token, user


class UnreadableEvent(DomainError):
    """A consumer was delivered an event in a schema version it cannot read (seed 6.3)."""

    code = "unreadable-event"

    def __init__(self, event_type: str, version: int, reader_version: int, reader: str,
                 reason: str | None = None) -> None:
        why = f": {reason}" if reason else ""
        super().__init__(
            f"UnreadableEvent({event_type} v{version}, the consumer reads v{reader_version}, {reader} reader{why})"
        )
        self.event_type, self.version, self.reader_version, self.reader = event_type, version, reader_version, reader
        self.reason = reason


class TokenNotFound(DomainError):
    code = "token-not-found"

    def __init__(self, token: str) -> None:
        super().__init__(f"TokenNotFound(token={token})")
        self.token = token


class TokenNotActive(DomainError):
    code = "token-not-active"

    def __init__(self, token: str, status: str) -> None:
        super().__init__(f"TokenNotActive(token={token}, status={status})")
        self.token, self.status = token, status


def _codes(error: type[DomainError]) -> set[str]:
    return {error.code}.union(*(_codes(sub) for sub in error.__subclasses__()))


DOMAIN_CODES: frozenset[str] = frozenset(_codes(DomainError))
"""The code of every domain error: an operation refused with one was refused by a business rule
(the design answering, e.g. ``seat-unavailable``), not failed by the system (a timeout, an
unavailable or failed dependency, a 429)."""

