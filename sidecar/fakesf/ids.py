"""Salesforce-shaped identifiers: 18-character record ids with their real checksum, usernames, one-time tokens.

Values are random (or derived from a seed, so an org set up by hand in the state file keeps one id across
invocations); only their shapes are fixed.
"""

from __future__ import annotations

import hashlib
import secrets
import string

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def with_checksum(id15: str) -> str:
    """Append the 3-character case-safe suffix that turns a 15-character id into its 18-character form."""
    suffix = ""
    for chunk_start in range(0, 15, 5):
        chunk = id15[chunk_start : chunk_start + 5]
        bits = sum(1 << i for i, ch in enumerate(chunk) if ch in string.ascii_uppercase)
        suffix += _CHECKSUM_CHARS[bits]
    return id15 + suffix


def new_id(prefix: str) -> str:
    """A random 18-character id with a key prefix such as `00D` (org) or `0Af` (deploy request)."""
    body = prefix + "".join(secrets.choice(_ALNUM) for _ in range(15 - len(prefix)))
    return with_checksum(body)


def stable_id(prefix: str, seed: str) -> str:
    """An 18-character id derived from `seed`, for state entries that do not carry their own id."""
    digest = hashlib.sha256(seed.encode()).digest()
    body = prefix + "".join(_ALNUM[b % len(_ALNUM)] for b in digest[: 15 - len(prefix)])
    return with_checksum(body)


def stable_slug(seed: str, length: int = 10) -> str:
    """A lower-case token derived from `seed` (host names, usernames)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_LOWER_ALNUM[b % len(_LOWER_ALNUM)] for b in digest[:length])


def random_token(length: int, alphabet: str = _ALNUM) -> str:
    """A random token, e.g. the 40-character one-time password of a frontdoor URL."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_scratch_username() -> str:
    """A scratch org admin username like the Dev Hub generates (`test-abcdef123456@example.com`)."""
    return f"test-{random_token(12, _LOWER_ALNUM)}@example.com"


def new_access_token(org_id: str) -> str:
    """A session id shaped like the real ones (`<15-char org id>!<token>`)."""
    return f"{org_id[:15]}!AQ{random_token(96, _ALNUM + '._')}"
