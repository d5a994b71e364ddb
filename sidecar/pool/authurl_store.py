"""All SQL of the `org_auth_urls` table, and nothing else: where each org of a shared pool came from, and its auth URL
sealed with the team key (sidecar/pool/teamkey.py). Never a URL in clear: this module sees only `Sealed` values.

Written in the transaction that inserts the org (the caller passes its connection), so an org is never in the pool
without its origin; the row is deleted with its org by the foreign key's ON DELETE CASCADE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sidecar.pool.teamkey import Sealed
from sidecar.storage.connection import Connection


@dataclass(frozen=True)
class OrgOrigin:
    """Which sidecar instance brought the org into the pool, on which machine, and its sealed auth URL (None when
    that machine had no team key or its CLI could not show the URL)."""

    instance: str
    machine: str
    sealed: Sealed | None


async def put(
    conn: Connection, org_id: str, instance: str, machine: str, sealed: Sealed | None, captured_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO org_auth_urls (org_id, origin_instance, origin_machine, key_id, nonce, ciphertext, captured_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            org_id,
            instance,
            machine,
            sealed.key_id if sealed else None,
            sealed.nonce if sealed else None,
            sealed.ciphertext if sealed else None,
            captured_at,
        ),
    )


async def origin_of(conn: Connection, org_id: str) -> OrgOrigin | None:
    """None for an org with no row (one registered before migration 0012, or on a pool nobody shares)."""
    row = await conn.fetch_one(
        "SELECT origin_instance, origin_machine, key_id, nonce, ciphertext FROM org_auth_urls WHERE org_id = ?",
        (org_id,),
    )
    if row is None:
        return None
    sealed = None
    if row["ciphertext"] is not None:
        sealed = Sealed(str(row["key_id"]), str(row["nonce"]), str(row["ciphertext"]))
    return OrgOrigin(str(row["origin_instance"]), str(row["origin_machine"]), sealed)
