"""Plan ladders on a pool: the default grant and `ReapplyDefaultsForPool`, both inside the caller's transaction.

Why these take a connection instead of opening a transaction: first sign-in must create the organization and its
default plan atomically, and an operator's reapply must be undone by the caller's rollback. So these functions
never commit; whatever they write lives or dies with the transaction they were handed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from sidecar.errors import NotFound
from sidecar.governance import store
from sidecar.governance.models import SYSTEM, Actor, ReapplyOutcome, TransitionType
from sidecar.governance.store import LadderRef, PoolRef, Tier
from sidecar.storage.connection import Connection
from sidecar.storage.ids import new_id

# Called with a step's name after each write; tests raise from it to prove a late failure undoes everything.
StepHook = Callable[[str], None]

AUTO_PROVISIONING_REASON = "auto-provisioning on org creation"
REAPPLY_REASON = "default plan reapplied"

# What the `grants.grant_reason` CHECK allows.
GrantReason = Literal["default", "purchase", "manual"]


def no_step(_name: str) -> None:
    return None


class CatalogBroken(RuntimeError):
    """A ladder lacks the tier being granted: the catalog sync guarantees rank 0, so this is a bug, not input."""


async def _tier_at(conn: Connection, ladder: LadderRef, rank: int) -> Tier:
    tier = await store.ladder_tier(conn, ladder.id, rank)
    if tier is None:
        raise CatalogBroken(f"ladder {ladder.key!r} has no rank-{rank} tier")
    return tier


async def grant_tier(
    conn: Connection,
    pool: PoolRef,
    ladder: LadderRef,
    rank: int,
    *,
    grant_reason: GrantReason,
    billing_account_id: str | None,
    transition: TransitionType | None,
    from_rank: int | None,
    actor: Actor,
    reason: str,
    now: datetime,
    step: StepHook = no_step,
) -> str:
    """Grant the product at `rank` of the ladder to the pool: grant, provision, entitlements, rank, transition.

    The pool must hold no active provision (the caller ends it first: the database allows one per pool). Returns
    the new provision's id.
    """
    await store.lock_pool(conn, pool.id)
    tier = await _tier_at(conn, ladder, rank)
    grant_id = new_id("grt")
    await store.insert_grant(
        conn,
        {
            "id": grant_id,
            "organization_id": pool.organization_id,
            "billing_account_id": billing_account_id,
            "product_id": tier.product_id,
            "entitlement_set_id": tier.entitlement_set_id,
            "granted_by_person_id": actor.person_id,
            "grant_reason": grant_reason,
            "status": "active",
            "quantity": 1,
            "created_at": now,
            "ended_at": None,
        },
    )
    step("grant")
    provision_id = new_id("prv")
    await store.insert_provision(
        conn,
        {"id": provision_id, "pool_id": pool.id, "grant_id": grant_id, "status": "active", "created_at": now},
    )
    step("provision")
    await store.materialize_entitlements(conn, pool.id, now)
    step("entitlements")
    await store.set_ladder_position(conn, pool.id, ladder.id, rank, now)
    step("ladder")
    if transition is not None:
        await record_transition(
            conn, pool.id, ladder.id, transition, from_rank, rank, actor=actor, reason=reason, now=now
        )
        step("transition")
    return provision_id


async def record_transition(
    conn: Connection,
    pool_id: str,
    ladder_id: str | None,
    transition: TransitionType,
    from_rank: int | None,
    to_rank: int | None,
    *,
    actor: Actor,
    reason: str,
    now: datetime,
) -> None:
    await store.insert_transition(
        conn,
        {
            "id": new_id("trn"),
            "pool_id": pool_id,
            "ladder_id": ladder_id,
            "transition_type": transition.value,
            "from_rank": from_rank,
            "to_rank": to_rank,
            "actor_type": actor.type.value,
            "actor_person_id": actor.person_id,
            "reason": reason,
            "occurred_at": now,
        },
    )


async def reapply_defaults_for_pool(
    conn: Connection,
    pool_id: str,
    *,
    now: datetime,
    actor: Actor = SYSTEM,
    reason: str = REAPPLY_REASON,
    step: StepHook = no_step,
) -> ReapplyOutcome:
    """Put the pool back on its org type's default plan (rank 0 of the default ladder), or end its plan.

    - With a default ladder: grant the rank-0 product (reason `default`, quantity 1), stand the pool at rank 0,
      record `initiate` when it was off that ladder or `downgrade` when it stood higher, re-materialize.
    - Without one: end the pool's provision and ladder position and record one `end` transition (`to_rank` null).
    - Idempotent: a pool already on its default plan (or already ended) gets no writes at all.
    """
    pool = await store.lock_pool(conn, pool_id)
    if pool is None:
        raise NotFound(f"no resource pool with id {pool_id!r}", poolId=pool_id)
    ladder = await store.default_ladder(conn, pool.org_type)
    position = await store.ladder_position(conn, pool.id)
    if ladder is None:
        return await _end(conn, pool, position, now=now, actor=actor, reason=reason, step=step)

    tier = await _tier_at(conn, ladder, 0)
    existing = await store.active_default_provision(conn, pool.id, ladder.id, tier.product_id)
    if existing is not None:
        return await _at_rank_0(conn, pool, ladder, existing, changed=False, transition=None)

    if position is None or position.ladder_id != ladder.id:
        transition: TransitionType | None = TransitionType.INITIATE
        from_rank = None
    elif position.rank > 0:
        transition, from_rank = TransitionType.DOWNGRADE, position.rank
    else:
        # Already at rank 0 but not on the current rank-0 product (the catalog changed): re-grant, rank unchanged.
        transition, from_rank = None, 0
    await store.end_active_provision(conn, pool.id, now)
    provision_id = await grant_tier(
        conn,
        pool,
        ladder,
        0,
        grant_reason="default",
        billing_account_id=await store.default_billing_account(conn, pool.organization_id),
        transition=transition,
        from_rank=from_rank,
        actor=actor,
        reason=reason,
        now=now,
        step=step,
    )
    return await _at_rank_0(conn, pool, ladder, provision_id, changed=True, transition=transition)


async def _at_rank_0(
    conn: Connection,
    pool: PoolRef,
    ladder: LadderRef,
    provision_id: str,
    *,
    changed: bool,
    transition: TransitionType | None,
) -> ReapplyOutcome:
    """The outcome of a pool on its default plan, whether this reapply put it there or found it there."""
    return ReapplyOutcome(
        pool_id=pool.id,
        changed=changed,
        transition=transition,
        provision_id=provision_id,
        ladder=ladder.key,
        rank=0,
        entitlements=await store.pool_entitlements(conn, pool.id),
    )


async def _end(
    conn: Connection,
    pool: PoolRef,
    position: store.Position | None,
    *,
    now: datetime,
    actor: Actor,
    reason: str,
    step: StepHook,
) -> ReapplyOutcome:
    """No default plan: the pool leaves its ladder. Already ended (no position, no provision, an `end`): no-op."""
    active = await store.has_active_provision(conn, pool.id)
    if position is None and not active and await store.has_end_transition(conn, pool.id):
        return ReapplyOutcome(
            pool_id=pool.id, changed=False, transition=None, provision_id=None, ladder=None, rank=None, entitlements={}
        )
    await store.end_active_provision(conn, pool.id, now)
    await store.clear_entitlements(conn, pool.id)
    await store.clear_ladder_position(conn, pool.id)
    await record_transition(
        conn,
        pool.id,
        position.ladder_id if position else None,
        TransitionType.END,
        position.rank if position else None,
        None,
        actor=actor,
        reason=reason,
        now=now,
    )
    step("transition")
    return ReapplyOutcome(
        pool_id=pool.id,
        changed=True,
        transition=TransitionType.END,
        provision_id=None,
        ladder=None,
        rank=None,
        entitlements={},
    )
