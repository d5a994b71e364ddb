"""Governance shapes: the claims that come in, the session, home and overview views and reapply outcomes going out.

Wire shapes are `WireModel`s (camelCase for the JavaScript side), except `Claims`, whose keys are the OIDC claim
names themselves (`preferred_username`), and which ignores the other claims of a real ID token (`aud`, `exp`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from sidecar.pool.models import PoolStatus, ScratchOrg
from sidecar.wiremodel import WireModel

OPERATOR_ROLE = "operator"

EntitlementValue = bool | int | float | str


class Claims(BaseModel):
    """The verified ID token's claims, as the Electron main process hands them over."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # Bounded, so a 4 MiB name is refused (INVALID_PARAMS naming the claim) instead of becoming an organization
    # name; the identifiers are stripped first, so "   " is refused as empty rather than creating a user.
    iss: Annotated[StrictStr, Field(min_length=1, max_length=2048)]
    sub: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    email: Annotated[StrictStr, Field(max_length=320)] | None = None
    name: Annotated[StrictStr, Field(max_length=256)] | None = None
    preferred_username: Annotated[StrictStr, Field(max_length=256)] | None = None
    roles: Annotated[list[Annotated[StrictStr, Field(max_length=128)]], Field(max_length=64)] = Field(
        default_factory=list
    )

    @field_validator("iss", "sub", mode="before")
    @classmethod
    def _identifiers_are_stripped(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("roles", mode="before")
    @classmethod
    def _one_role_is_a_list(cls, value: Any) -> Any:
        # Some identity providers send a single role as a bare string.
        if value is None:
            return []
        return [value] if isinstance(value, str) else value


class TransitionType(StrEnum):
    INITIATE = "initiate"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    END = "end"


class ActorType(StrEnum):
    SYSTEM = "system"
    PERSON = "person"


@dataclass(frozen=True)
class Actor:
    """Who caused a grant or a transition: the system (auto-provisioning) or a person (an operator)."""

    type: ActorType
    person_id: str | None = None


SYSTEM = Actor(ActorType.SYSTEM)


@dataclass(frozen=True)
class Subject:
    """The rows a signed-in person stands on: found or created by sign-in, kept in the session."""

    user_id: str
    person_id: str
    organization_id: str
    workspace_id: str
    pool_id: str


class SignedIn(WireModel):
    authenticated: Literal[True] = True
    oidc_subject: str
    issuer: str
    email: str | None
    name: str | None
    username: str | None
    roles: list[str]
    person_id: str
    organization_id: str
    workspace_id: str
    first_login: bool


class SignedOut(WireModel):
    authenticated: Literal[False] = False


Session = SignedIn | SignedOut


class LadderPosition(WireModel):
    ladder: str
    rank: int
    product: str | None


class PoolInfo(WireModel):
    id: str
    name: str
    pool_type: str
    is_auto_managed: bool
    workspace_ids: list[str]
    ladder: LadderPosition | None
    entitlements: dict[str, EntitlementValue]


class PersonInfo(WireModel):
    id: str
    name: str
    email: str | None


class MemberInfo(WireModel):
    person_id: str
    name: str
    email: str | None
    role: str


class WorkspaceInfo(WireModel):
    id: str
    name: str
    pool_ids: list[str]


class OrganizationInfo(WireModel):
    id: str
    name: str
    slug: str
    org_type: str
    # The signed-in person's role in it; null in the operator's overview where they are not a member.
    role: str | None = None
    workspaces: list[WorkspaceInfo]
    pools: list[PoolInfo]


class OrganizationDetail(OrganizationInfo):
    members: list[MemberInfo]


class SoloHome(WireModel):
    """One person, one organization, one workspace: the pool directly, no selectors."""

    view: Literal["solo"] = "solo"
    person: PersonInfo
    organization_id: str
    workspace_id: str
    pool: PoolInfo
    status: PoolStatus
    scratch_orgs: list[ScratchOrg]


class FullHome(WireModel):
    """More than one of anything: the organizations and workspaces to choose from, and the current selection."""

    view: Literal["full"] = "full"
    person: PersonInfo
    organization_id: str
    workspace_id: str
    organizations: list[OrganizationInfo]
    pool: PoolInfo
    status: PoolStatus
    scratch_orgs: list[ScratchOrg]


Home = SoloHome | FullHome


class CatalogIssue(WireModel):
    key: str
    reason: str


class Overview(WireModel):
    organizations: list[OrganizationDetail]
    catalog_errors: list[CatalogIssue]


class ReapplyOutcome(WireModel):
    """What `ReapplyDefaultsForPool` did: `transition` is null when nothing was written (or the rank was kept)."""

    pool_id: str
    changed: bool
    transition: TransitionType | None
    provision_id: str | None
    ladder: str | None
    rank: int | None
    entitlements: dict[str, EntitlementValue]
