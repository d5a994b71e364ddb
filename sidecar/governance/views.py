"""Read models: the organizations tree a person sees (home) and the one an operator sees (overview).

Built from the store's typed rows over any `Connection` (either engine); nothing here knows SQL.

Progressive disclosure lives here: one person alone in one organization with one workspace is `solo` (the pool,
directly); anything more is `full` (the organizations and workspaces to choose from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sidecar.governance import store
from sidecar.governance.models import (
    LadderPosition,
    MemberInfo,
    OrganizationDetail,
    OrganizationInfo,
    PersonInfo,
    PoolInfo,
    Subject,
    WorkspaceInfo,
)
from sidecar.storage.connection import Connection


@dataclass(frozen=True)
class PersonTree:
    person: PersonInfo
    organizations: list[OrganizationInfo]
    pool: PoolInfo
    solo: bool


async def _organizations(
    conn: Connection, org_rows: Sequence[store.OrganizationRow], with_members: bool
) -> list[OrganizationDetail]:
    org_ids = [row.id for row in org_rows]
    workspaces_by_org: dict[str, list[WorkspaceInfo]] = {}
    workspace_by_id: dict[str, WorkspaceInfo] = {}
    for row in await store.workspaces(conn, org_ids):
        info = WorkspaceInfo(id=row.id, name=row.name, pool_ids=[])
        workspaces_by_org.setdefault(row.organization_id, []).append(info)
        workspace_by_id[info.id] = info
    pool_workspaces: dict[str, list[str]] = {}
    for assignment in await store.assignments(conn, org_ids):
        pool_workspaces.setdefault(assignment.pool_id, []).append(assignment.workspace_id)
        if assignment.workspace_id in workspace_by_id:
            workspace_by_id[assignment.workspace_id].pool_ids.append(assignment.pool_id)
    entitlements = await store.entitlements_of_orgs(conn, org_ids)
    pools_by_org: dict[str, list[PoolInfo]] = {}
    for pool in await store.pools(conn, org_ids):
        ladder = (
            LadderPosition(ladder=pool.ladder_key, rank=pool.rank, product=pool.product_key)
            if pool.ladder_key is not None and pool.rank is not None
            else None
        )
        pools_by_org.setdefault(pool.organization_id, []).append(
            PoolInfo(
                id=pool.id,
                name=pool.name,
                pool_type=pool.pool_type,
                is_auto_managed=pool.is_auto_managed,
                workspace_ids=pool_workspaces.get(pool.id, []),
                ladder=ladder,
                entitlements=entitlements.get(pool.id, {}),
            )
        )
    members_by_org: dict[str, list[MemberInfo]] = {}
    if with_members:
        for member in await store.members(conn, org_ids):
            members_by_org.setdefault(member.organization_id, []).append(
                MemberInfo(person_id=member.person_id, name=member.display_name, email=member.email, role=member.role)
            )
    return [
        OrganizationDetail(
            id=row.id,
            name=row.name,
            slug=row.slug,
            org_type=row.org_type,
            role=row.role,
            workspaces=workspaces_by_org.get(row.id, []),
            pools=pools_by_org.get(row.id, []),
            members=members_by_org.get(row.id, []),
        )
        for row in org_rows
    ]


async def person_tree(conn: Connection, subject: Subject) -> PersonTree:
    """What the signed-in person belongs to, their session pool, and whether the solo view fits."""
    person_row = await store.person(conn, subject.person_id)
    if person_row is None:
        raise LookupError(f"person {subject.person_id} is gone")
    person = PersonInfo(id=person_row.id, name=person_row.display_name, email=person_row.email)
    detailed = await _organizations(conn, await store.memberships(conn, subject.person_id), with_members=True)
    pool = next(
        (p for org in detailed for p in org.pools if p.id == subject.pool_id),
        None,
    )
    if pool is None:
        raise LookupError(f"pool {subject.pool_id} is gone")
    solo = len(detailed) == 1 and len(detailed[0].workspaces) == 1 and len(detailed[0].members) == 1
    organizations = [OrganizationInfo(**d.model_dump(exclude={"members"})) for d in detailed]
    return PersonTree(person=person, organizations=organizations, pool=pool, solo=solo)


async def all_organizations(conn: Connection, viewer: Subject) -> list[OrganizationDetail]:
    """Every organization with its members and their roles, its workspaces and its pools (operators only)."""
    return await _organizations(conn, await store.organizations(conn, viewer.person_id), with_members=True)
