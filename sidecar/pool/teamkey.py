"""The team key: where it comes from, what it looks like, and AES-GCM sealing of org auth URLs with it.

An org's auth URL (`force://...`) is a long-lived credential: anyone holding it can log in to the org. A shared pool
stores it so another desktop's CLI can be logged in to an org it did not create, and stores it only sealed with a
key every desktop of the team holds and the database never sees: `SWEATSHOP_TEAM_KEY` (environment), else the file
named by `orgPool.teamKeyFile`, which must be a regular file only its owner can read (a key others on the machine
can read is no secret: refused, naming the file).

The key is 32 random bytes written as base64 (`openssl rand -base64 32`) or as 64 hex digits. Each sealing draws a
fresh 96-bit nonce, and the org's pool id is the associated data, so a ciphertext copied onto another org's row
does not open. `key_id` (an HMAC of a fixed label under the key, never the key) is stored beside the ciphertext so
a machine with a different key is told so instead of "damaged".

`cryptography` is imported only when a key is used: it ships with the `postgres` extra (a team pool needs
PostgreSQL anyway), and a single desktop on SQLite never needs it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sidecar.errors import OrgNotAuthorized

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_VAR = "SWEATSHOP_TEAM_KEY"
SETTING = "orgPool.teamKeyFile"
KEY_BYTES = 32
NONCE_BYTES = 12
MAX_KEY_FILE_BYTES = 1024
_KEY_ID_LABEL = b"sweatshop team key id v1"
_AAD_PREFIX = "sweatshop auth url v1:"
HOW_TO_MAKE = "make one with `openssl rand -base64 32` (32 random bytes, base64) and give every desktop the same"


class TeamKeyError(OrgNotAuthorized):
    """The configured team key cannot be used (malformed, unreadable, readable by others)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="badTeamKey")


@dataclass(frozen=True)
class Sealed:
    """An auth URL as stored: which key sealed it, the nonce and the ciphertext with its tag (base64 text)."""

    key_id: str
    nonce: str
    ciphertext: str


@dataclass(frozen=True)
class TeamKey:
    secret: bytes = field(repr=False)
    source: str  # where it came from, for messages ("SWEATSHOP_TEAM_KEY" or "orgPool.teamKeyFile /path")

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]

    def seal(self, org_id: str, auth_url: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        data = _aesgcm(self.secret).encrypt(nonce, auth_url.encode("utf-8"), _aad(org_id))
        return Sealed(self.key_id, _b64(nonce), _b64(data))

    def open(self, org_id: str, sealed: Sealed) -> str:
        """The auth URL; OrgNotAuthorized when this key did not seal it or the row was altered or moved."""
        from cryptography.exceptions import InvalidTag

        if sealed.key_id != self.key_id:
            raise OrgNotAuthorized(
                f"the stored auth URL of org {org_id!r} was sealed with another team key (id {sealed.key_id}); this"
                f" desktop's key from {self.source} has id {self.key_id}: give every desktop the same"
                f" {ENV_VAR} / {SETTING}",
                reason="wrongTeamKey",
                orgId=org_id,
            )
        try:
            plain = _aesgcm(self.secret).decrypt(
                base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), _aad(org_id)
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise OrgNotAuthorized(
                f"the stored auth URL of org {org_id!r} does not open with the team key (altered, or copied from"
                " another org's row): register the org again on the machine that made it",
                reason="damagedAuthUrl",
                orgId=org_id,
            ) from None
        return plain.decode("utf-8")


def _aad(org_id: str) -> bytes:
    return (_AAD_PREFIX + org_id).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _aesgcm(secret: bytes) -> AESGCM:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - the postgres extra brings it
        raise TeamKeyError(
            "a team key is set but the `cryptography` package is missing: pip install 'sweatshop-sidecar[postgres]'"
        ) from None
    return AESGCM(secret)


def parse_key(text: str, source: str) -> TeamKey:
    """32 bytes from base64 (standard or URL-safe, padding optional) or 64 hex digits; anything else is refused
    with a sentence that never repeats the value."""
    value = text.strip()
    secret: bytes | None = None
    if len(value) == 2 * KEY_BYTES and all(c in "0123456789abcdefABCDEF" for c in value):
        secret = bytes.fromhex(value)
    else:
        try:
            padded = value + "=" * (-len(value) % 4)
            secret = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            secret = None
    if secret is None or len(secret) != KEY_BYTES:
        raise TeamKeyError(f"the team key from {source} is not {KEY_BYTES} bytes in base64 or hex ({HOW_TO_MAKE})")
    return TeamKey(secret, source)


def read_key_file(path_text: str) -> TeamKey:
    """The key in `orgPool.teamKeyFile`: a regular file of this user's that nobody else may read."""
    path = Path(os.path.expanduser(path_text))
    source = f"{SETTING} {path}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise TeamKeyError(f"{source} does not exist ({HOW_TO_MAKE})") from None
    except OSError as exc:
        raise TeamKeyError(f"{source} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise TeamKeyError(f"{source} is not a regular file")
    if os.name == "posix":
        if info.st_mode & 0o077:
            raise TeamKeyError(
                f"{source} is open to group or others (mode {stat.S_IMODE(info.st_mode):04o}): a team key must be"
                f" readable by its owner only; run `chmod 600 {path}`"
            )
        if info.st_uid != os.geteuid():
            raise TeamKeyError(f"{source} belongs to another user (uid {info.st_uid}): it must be your own file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise TeamKeyError(f"{source} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise TeamKeyError(f"{source} is larger than {MAX_KEY_FILE_BYTES} bytes: it is not a team key")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise TeamKeyError(f"{source} is not text: write the key as base64 or hex ({HOW_TO_MAKE})") from None
    return parse_key(text, source)


def load_team_key(env: Mapping[str, str], key_file: str | None) -> TeamKey | None:
    """`SWEATSHOP_TEAM_KEY`, else `orgPool.teamKeyFile`, else None (no key: only this machine's own orgs work)."""
    value = env.get(ENV_VAR, "")
    if value.strip():
        return parse_key(value, ENV_VAR)
    if key_file:
        return read_key_file(key_file)
    return None
