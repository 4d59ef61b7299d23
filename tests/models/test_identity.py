"""Session credentials (seed 8.2): the caller's identity comes from a tag that verifies, never from
a field of the request."""

from __future__ import annotations

import pytest

from concertsim.models import identity
from concertsim.models.errors import Unauthenticated

KEY = identity.signing_key_for(7)


def refusal(credential: object) -> str:
    with pytest.raises(Unauthenticated) as refused:
        identity.authenticate(KEY, credential)
    return refused.value.reason


def test_a_credential_authenticates_the_user_it_was_issued_to() -> None:
    credential = identity.issue_credential(KEY, 42)
    assert credential.startswith("42.") and credential.count(".") == 1
    assert identity.authenticate(KEY, credential) == 42


def test_the_signing_key_is_a_function_of_the_seed() -> None:
    assert identity.signing_key_for(7) == KEY and len(KEY) == 32
    assert identity.signing_key_for(8) != KEY


def test_a_credential_signed_with_another_key_is_refused() -> None:
    forged = identity.issue_credential(identity.signing_key_for(8), 42)
    assert refusal(forged) == "the credential's signature does not verify"


def test_a_users_tag_does_not_sign_another_user() -> None:
    tag = identity.issue_credential(KEY, 1).split(".")[1]
    assert identity.issue_credential(KEY, 2) != f"2.{tag}"
    assert refusal(f"2.{tag}") == "the credential's signature does not verify"


def test_a_missing_credential_is_refused_as_missing() -> None:
    assert refusal(None) == "no credential"


@pytest.mark.parametrize("credential", [42, "42", "42.a.b", ""])
def test_a_malformed_credential_is_refused_as_malformed(credential: object) -> None:
    assert refusal(credential) == "malformed credential"


@pytest.mark.parametrize("user", ["alice", "-1", ""])
def test_a_credential_whose_user_is_not_a_number_is_refused(user: str) -> None:
    tag = identity.issue_credential(KEY, 42).split(".")[1]
    assert refusal(f"{user}.{tag}") == "the credential's signature does not verify"
