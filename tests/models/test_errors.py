"""Domain errors carry the facts of the refusal, in the message and as attributes, and a stable code."""

from __future__ import annotations

import pytest

from concertsim.models import errors as e

CASES = [
    (e.InvalidAmount, (0,), "invalid-amount", "InvalidAmount(amount=0): amounts must be positive", {"amount": 0}),
    (e.InsufficientPoints, (7, 300, 500), "insufficient-points", "InsufficientPoints(user=7, balance=300, needed=500)",
     {"user": 7, "balance": 300, "needed": 500}),
    (e.UnknownAccount, (7,), "unknown-account", "UnknownAccount(user=7)", {"user": 7}),
    (e.DeductionCancelled, ("res-1",), "deduction-cancelled",
     "DeductionCancelled(reservation=res-1): the payment was already cancelled", {"reservation": "res-1"}),
    (e.AlreadyRefunded, ("use-1",), "already-refunded", "AlreadyRefunded(use=use-1)", {"use": "use-1"}),
    (e.UnknownSeat, (2, 5), "unknown-seat", "UnknownSeat(date=2, seat=5)", {"date": 2, "seat": 5}),
    (e.SeatUnavailable, (2, 5, "HELD"), "seat-unavailable", "SeatUnavailable(date=2, seat=5, status=HELD)",
     {"date": 2, "seat": 5, "status": "HELD"}),
    (e.HoldLimitReached, (7, 2, 2), "hold-limit-reached", "HoldLimitReached(user=7, open_holds=2, limit=2)",
     {"user": 7, "open_holds": 2, "limit": 2}),
    (e.SalesNotOpen, (2, 60.0, 59.5), "sales-not-open", "SalesNotOpen(date=2, opens_at=60.000, now=59.500)",
     {"date": 2, "opens_at": 60.0, "now": 59.5}),
    (e.ReservationNotFound, ("res-1",), "reservation-not-found", "ReservationNotFound(reservation=res-1)",
     {"reservation": "res-1"}),
    (e.NotReservationOwner, ("res-1", 8), "not-owner", "NotReservationOwner(reservation=res-1, user=8)",
     {"reservation": "res-1", "user": 8}),
    (e.HoldExpired, ("res-1", 10.0, 10.25), "hold-expired", "HoldExpired(reservation=res-1, expired_at=10.000, now=10.250)",
     {"reservation": "res-1", "expired_at": 10.0, "now": 10.25}),
    (e.ReservationClosed, ("res-1", "EXPIRED"), "reservation-closed", "ReservationClosed(reservation=res-1, status=EXPIRED)",
     {"reservation": "res-1", "status": "EXPIRED"}),
    (e.Unauthenticated, ("no credential",), "unauthenticated", "Unauthenticated(no credential)",
     {"reason": "no credential"}),
    (e.Forbidden, (7, 8), "forbidden", "Forbidden(caller=7, named_user=8)", {"caller": 7, "named": 8}),
    (e.NotTokenOwner, ("tok-1", 8), "not-owner", "NotTokenOwner(token=tok-1, user=8)", {"token": "tok-1", "user": 8}),
    (e.UnreadableEvent, ("SeatReservedEvent", 2, 1, "strict"), "unreadable-event",
     "UnreadableEvent(SeatReservedEvent v2, the consumer reads v1, strict reader)",
     {"event_type": "SeatReservedEvent", "version": 2, "reader_version": 1, "reader": "strict"}),
    (e.TokenNotFound, ("tok-1",), "token-not-found", "TokenNotFound(token=tok-1)", {"token": "tok-1"}),
    (e.TokenNotActive, ("tok-1", "WAITING"), "token-not-active", "TokenNotActive(token=tok-1, status=WAITING)",
     {"token": "tok-1", "status": "WAITING"}),
]


@pytest.mark.parametrize(("kind", "args", "code", "message", "facts"), CASES, ids=[c[0].__name__ for c in CASES])
def test_a_domain_error_states_its_facts_in_its_message_and_attributes(
    kind: type[e.DomainError], args: tuple[object, ...], code: str, message: str, facts: dict[str, object]
) -> None:
    error = kind(*args)
    assert isinstance(error, e.DomainError)
    assert (error.code, error.message, str(error)) == (code, message, message)
    assert {name: getattr(error, name) for name in facts} == facts


def test_every_domain_error_is_covered() -> None:
    covered = {case[0].__name__ for case in CASES}
    assert covered == set(e.__all__) - {"DomainError", "DOMAIN_CODES"}


def test_the_domain_codes_are_every_domain_errors_code() -> None:
    """What tells a refusal by a business rule from a failure of the system (the migration timeline
    counts them apart)."""
    assert e.DOMAIN_CODES == {case[2] for case in CASES} | {"domain-error"}
    assert not {"unavailable", "gateway-timeout", "rate-limited", "payment-failed"} & e.DOMAIN_CODES


def test_a_plain_domain_error_keeps_its_message() -> None:
    error = e.DomainError("refused")
    assert (error.code, error.message, str(error)) == ("domain-error", "refused", "refused")
