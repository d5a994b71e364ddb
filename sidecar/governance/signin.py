"""First sign-in: everything a new subject stands on, created inside the caller's one transaction.

Race-free by construction: the user row is inserted with `ON CONFLICT (issuer, subject) DO NOTHING`, so of two
concurrent sign-ins of one subject exactly one creates it (the other finds the rows once the first commits), and
the slug's next free suffix is found in one statement and claimed by the unique index (retried on a conflict).

The claims themselves are bounded and their identifiers stripped where they are parsed (`models.Claims`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from sidecar.governance import store
from sidecar.governance.catalog import PERSONAL
from sidecar.governance.ladders import AUTO_PROVISIONING_REASON, StepHook, grant_tier, no_step
from sidecar.governance.models import SYSTEM, Claims, Subject, TransitionType
from sidecar.governance.store import PoolRef
from sidecar.storage.connection import Connection
from sidecar.storage.ids import new_id

MAX_SLUG_BASE = 40
MAX_SLUG_ATTEMPTS = 3


def display_name(claims: Claims) -> str:
    """The name people see: the `name` claim, else the username, else the email, else the subject."""
    for candidate in (claims.name, claims.preferred_username, claims.email, claims.sub):
        if candidate and candidate.strip():
            return candidate.strip()
    return claims.sub


def slug_base(claims: Claims) -> str:
    """The username, lower-cased and cleaned to `[a-z0-9-]` (an email-style username keeps its local part)."""
    source = claims.preferred_username or claims.email or claims.sub
    source = source.split("@", 1)[0] or source
    ascii_text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return cleaned[:MAX_SLUG_BASE].strip("-") or "user"


async def _insert_organization(conn: Connection, values: dict[str, object], base: str) -> str:
    """Insert with the first free slug of base, base-2, base-3, ...: one query finds it, the unique index decides.

    Inside the caller's write transaction nobody else can take the slug between the two statements; the retry is
    for a store that does not serialize writers.
    """
    for _ in range(MAX_SLUG_ATTEMPTS):
        slug = await store.next_free_slug(conn, base)
        if await store.insert_organization(conn, {**values, "slug": slug}):
            return slug
    slug = f"{base}-{new_id('x')[2:10]}"
    if await store.insert_organization(conn, {**values, "slug": slug}):
        return slug
    raise RuntimeError(f"no free slug for {base!r}")


async def sign_in_subject(
    conn: Connection, claims: Claims, now: datetime, step: StepHook = no_step
) -> tuple[Subject, bool]:
    """The subject's rows, created on first sign-in; (subject, created). Runs inside the caller's transaction."""
    user_id = new_id("usr")
    created = await store.insert_user(
        conn,
        {
            "id": user_id,
            "issuer": claims.iss,
            "subject": claims.sub,
            "email": claims.email,
            "username": claims.preferred_username,
            "created_at": now,
        },
    )
    if not created:
        subject = await store.find_subject(conn, claims.iss, claims.sub)
        if subject is None:
            raise RuntimeError(f"user {claims.iss} {claims.sub} exists without a personal organization")
        return subject, False
    step("user")

    person_id = new_id("per")
    name = display_name(claims)
    await store.insert_person(
        conn, {"id": person_id, "user_id": user_id, "display_name": name, "email": claims.email, "created_at": now}
    )
    step("person")

    organization_id = new_id("orgn")
    await _insert_organization(
        conn,
        {
            "id": organization_id,
            "name": f"{name}'s Organization",
            "org_type": PERSONAL,
            "created_by_person_id": person_id,
            "created_at": now,
        },
        slug_base(claims),
    )
    step("organization")

    await store.insert_member(
        conn,
        {
            "id": new_id("mbr"),
            "organization_id": organization_id,
            "person_id": person_id,
            "role": "owner",
            "created_at": now,
        },
    )
    step("membership")

    workspace_id = new_id("wks")
    await store.insert_workspace(
        conn, {"id": workspace_id, "organization_id": organization_id, "name": "default", "created_at": now}
    )
    step("workspace")

    pool_id = new_id("rpl")
    await store.insert_pool(
        conn,
        {
            "id": pool_id,
            "organization_id": organization_id,
            "name": "default",
            "pool_type": "default",
            "is_auto_managed": True,
            "created_at": now,
        },
    )
    step("pool")

    await store.insert_pool_assignment(
        conn,
        {"id": new_id("pas"), "pool_id": pool_id, "workspace_id": workspace_id, "is_primary": True, "created_at": now},
    )
    step("pool_assignment")

    billing_account_id = new_id("bac")
    await store.insert_billing_account(
        conn,
        {
            "id": billing_account_id,
            "organization_id": organization_id,
            "name": "Default",
            "status": "active",
            "created_at": now,
        },
    )
    step("billing_account")

    ladder = await store.default_ladder(conn, PERSONAL)
    if ladder is not None:
        await grant_tier(
            conn,
            PoolRef(pool_id, organization_id, PERSONAL),
            ladder,
            0,
            grant_reason="default",
            billing_account_id=billing_account_id,
            transition=TransitionType.INITIATE,
            from_rank=None,
            actor=SYSTEM,
            reason=AUTO_PROVISIONING_REASON,
            now=now,
            step=step,
        )
    return Subject(user_id, person_id, organization_id, workspace_id, pool_id), True
