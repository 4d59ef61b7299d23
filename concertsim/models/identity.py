"""Who is calling (seed 8.2: the gateway authenticates every caller and authorises per route).

A user signs in before the sale and holds a session credential: their user id with an
HMAC-SHA256 tag under the gateway's signing key. The gateway takes the caller's identity from a
credential whose tag verifies, never from a field of the request, so a request cannot act as
another user by naming them; what a caller may touch (their own queue token, reservations and
points) each service checks against that identity.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from concertsim.models.errors import Unauthenticated

__all__ = ["signing_key_for", "issue_credential", "authenticate"]

_SEPARATOR = "."


def signing_key_for(seed: int) -> bytes:
    """The gateway's signing key in a run with ``seed`` (a run is a function of its seed)."""
    return hashlib.sha256(f"concertsim-gateway-signing-key:{seed}".encode()).digest()


@lru_cache(maxsize=4096)  # the gateway verifies each user's credential on every request
def _tag(key: bytes, user_id: int) -> str:
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()


def issue_credential(key: bytes, user_id: int) -> str:
    """The session credential of ``user_id``, signed with ``key``."""
    return f"{user_id}{_SEPARATOR}{_tag(key, user_id)}"


def authenticate(key: bytes, credential: object) -> int:
    """The user id ``credential`` was issued to; refuses :class:`Unauthenticated` for a missing,
    malformed or forged credential (one whose tag does not verify under ``key``)."""
    if not isinstance(credential, str) or credential.count(_SEPARATOR) != 1:
        raise Unauthenticated("no credential" if credential is None else "malformed credential")
    user, tag = credential.split(_SEPARATOR)
    if not user.isdigit() or not hmac.compare_digest(tag, _tag(key, int(user))):
        raise Unauthenticated("the credential's signature does not verify")
    return int(user)
