"""Orphans: scratch orgs the Dev Hub reports active (they hold its slots) that the pool does not know.

They come from creations nobody tracked (a sidecar killed mid-signup, a `--wait` that ran out, a person's own
`sf org create scratch`). The Dev Hub's `ActiveScratchOrg` rows name an org by its signup username and its 15-
character org id; a pool org is the same org when either matches (the pool may hold the 18-character id).
"""

from __future__ import annotations

from datetime import date, datetime

from sidecar.pool.models import ScratchOrg
from sidecar.timeutil import end_of_day
from sidecar.wiremodel import WireModel


class OrphanOrg(WireModel):
    """One ActiveScratchOrg row: `id` is the row's id in the Dev Hub, `sfOrgId` the org's 15-character id."""

    id: str
    username: str
    sf_org_id: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None


def parse_active_orgs(result: object) -> list[OrphanOrg]:
    """`sf data query ... FROM ActiveScratchOrg --json`'s result as rows; rows without a username are skipped."""
    records = result.get("records") if isinstance(result, dict) else None
    found = []
    for record in records if isinstance(records, list) else []:
        username = record.get("SignupUsername") if isinstance(record, dict) else None
        if not isinstance(username, str):
            continue
        expires = record.get("ExpirationDate")
        created = record.get("CreatedDate")
        found.append(
            OrphanOrg(
                id=str(record.get("Id") or ""),
                username=username,
                sf_org_id=record.get("ScratchOrg") if isinstance(record.get("ScratchOrg"), str) else None,
                created_at=_instant(created),
                expires_at=end_of_day(date.fromisoformat(expires[:10])) if _is_date(expires) else None,
            )
        )
    return found


def unknown_to(pool: list[ScratchOrg], active: list[OrphanOrg]) -> list[OrphanOrg]:
    """The active orgs no pool org is (by username, or by the first 15 characters of the org id)."""
    usernames = {o.username for o in pool if o.username}
    ids = {o.sf_org_id[:15] for o in pool if o.sf_org_id}
    return [a for a in active if a.username not in usernames and (a.sf_org_id or "")[:15] not in ids]


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
