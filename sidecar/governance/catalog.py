"""The `governance` section of settings.json: the plan catalog (org types, ladders, products), parsed and checked.

The section is nested and its parts name each other (an org type names a ladder, a ladder names its products), so
a bad entry is dropped together with whatever depends on it, and every drop is reported with its key and reason
the same way the orgPool section reports a bad value (`SettingsError`, via `parse_section`). The sidecar starts on
any input. An absent part (`orgTypes`, `ladders`, `products`) takes its built-in default, like an absent orgPool
key; an absent section is the built-in catalog.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from sidecar.governance.models import EntitlementValue
from sidecar.settings import SettingsError, parse_section

PERSONAL = "personal"
MAX_ACTIVE = "scratchOrgs.maxActive"
MAX_DURATION_DAYS = "scratchOrgs.maxDurationDays"

DEFAULT_SECTION: dict[str, Any] = {
    "orgTypes": {PERSONAL: {"defaultPlanLadder": "core"}},
    "ladders": {"core": ["public-tier", "team-tier"]},
    "products": {
        "public-tier": {"name": "Public Tier", "entitlements": {MAX_ACTIVE: 4, MAX_DURATION_DAYS: 7}},
        "team-tier": {"name": "Team Tier", "entitlements": {MAX_ACTIVE: 10, MAX_DURATION_DAYS: 30}},
    },
}

# Catalog keys become slugs in tables and on the wire: letters, digits, '.', '_' and '-'.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# The entitlements the sidecar itself enforces get real bounds; any other key is carried as an opaque scalar.
KNOWN_ENTITLEMENTS: dict[str, TypeAdapter[Any]] = {
    MAX_ACTIVE: TypeAdapter(Annotated[StrictInt, Field(ge=0, le=10_000)]),
    # A Salesforce scratch org lives at most 30 days.
    MAX_DURATION_DAYS: TypeAdapter(Annotated[StrictInt, Field(ge=1, le=30)]),
}
# Strict: "4" is not 4, and true is not 1.
ANY_ENTITLEMENT: TypeAdapter[Any] = TypeAdapter(StrictBool | StrictInt | StrictFloat | StrictStr)


@dataclass(frozen=True)
class Product:
    key: str
    name: str
    entitlements: Mapping[str, EntitlementValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Catalog:
    """What the tables are synchronized to: every reference in it resolves."""

    org_types: Mapping[str, str | None]
    ladders: Mapping[str, tuple[str, ...]]
    products: Mapping[str, Product]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    orgTypes: dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(DEFAULT_SECTION["orgTypes"]))
    ladders: dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(DEFAULT_SECTION["ladders"]))
    products: dict[str, Any] = Field(default_factory=lambda: copy.deepcopy(DEFAULT_SECTION["products"]))


class _ProductEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    entitlements: dict[str, Any] = Field(default_factory=dict)


class _OrgTypeEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    defaultPlanLadder: StrictStr | None = None


Entry = TypeVar("Entry", bound=BaseModel)


def _reason(exc: ValidationError) -> str:
    return "; ".join(e["msg"] for e in exc.errors())


def _slug_keyed(
    entries: dict[str, Any], part: str, what: str, errors: list[SettingsError]
) -> Iterator[tuple[str, Any, str]]:
    """(key, value, where) of each entry whose key can be a slug; the others are dropped before anything names them."""
    for key, value in entries.items():
        where = f"governance.{part}.{key}"
        if KEY_PATTERN.fullmatch(key):
            yield key, value, where
        else:
            errors.append(SettingsError(where, f"{what} key must be letters, digits, '.', '_' or '-' ({what} dropped)"))


def _object_entry(
    model: type[Entry], value: Any, where: str, errors: list[SettingsError], otherwise: str
) -> Entry | None:
    """None when the entry is not an object at all: `parse_section` would then give it every default, but the
    caller decides what a missing entry means (`otherwise` says it in the report)."""
    if not isinstance(value, dict):
        errors.append(SettingsError(where, f"expected an object, got {type(value).__name__} ({otherwise})"))
        return None
    entry, entry_errors = parse_section(model, value, where)
    errors.extend(entry_errors)
    return cast("Entry | None", entry)


def _parse_products(entries: dict[str, Any], errors: list[SettingsError]) -> dict[str, Product]:
    products: dict[str, Product] = {}
    for key, value, where in _slug_keyed(entries, "products", "product", errors):
        entry = _object_entry(_ProductEntry, value, where, errors, "product dropped")
        if entry is None:
            continue
        entitlements: dict[str, EntitlementValue] = {}
        for name, raw in entry.entitlements.items():
            adapter = KNOWN_ENTITLEMENTS.get(name, ANY_ENTITLEMENT)
            try:
                entitlements[name] = adapter.validate_python(raw)
            except ValidationError as exc:
                errors.append(
                    SettingsError(f"{where}.entitlements.{name}", f"{_reason(exc)} (got {raw!r}; entitlement dropped)")
                )
        products[key] = Product(key=key, name=entry.name or key, entitlements=entitlements)
    return products


def _parse_ladders(
    entries: dict[str, Any], products: Mapping[str, Product], errors: list[SettingsError]
) -> dict[str, tuple[str, ...]]:
    ladders: dict[str, tuple[str, ...]] = {}
    for key, value, where in _slug_keyed(entries, "ladders", "ladder", errors):
        if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
            problem = f"expected a non-empty list of product keys, rank 0 first (got {value!r})"
        elif len(set(value)) != len(value):
            problem = "a product appears twice on the ladder"
        elif missing := [p for p in value if p not in products]:
            problem = f"unknown or dropped product(s) {', '.join(missing)}"
        else:
            ladders[key] = tuple(value)
            continue
        errors.append(SettingsError(where, f"{problem} (ladder dropped)"))
    return ladders


def _parse_org_types(
    entries: dict[str, Any], ladders: Mapping[str, tuple[str, ...]], errors: list[SettingsError]
) -> dict[str, str | None]:
    org_types: dict[str, str | None] = {}
    for key, value, where in _slug_keyed(entries, "orgTypes", "org type", errors):
        entry = _object_entry(_OrgTypeEntry, value, where, errors, "no default plan")
        ladder = entry.defaultPlanLadder if entry is not None else None
        if ladder is not None and ladder not in ladders:
            errors.append(
                SettingsError(f"{where}.defaultPlanLadder", f"unknown or dropped ladder {ladder!r} (no default plan)")
            )
            ladder = None
        org_types[key] = ladder
    if PERSONAL not in org_types:
        # First sign-in creates a personal organization: its type must exist whatever the file says.
        errors.append(SettingsError(f"governance.orgTypes.{PERSONAL}", "missing; added with no default plan ladder"))
        org_types[PERSONAL] = None
    return org_types


def parse_catalog(settings_document: Mapping[str, Any]) -> tuple[Catalog, list[SettingsError]]:
    """The catalog declared in the whole settings document (`Settings.raw`), and every problem found in it."""
    section, errors = parse_section(_Section, settings_document.get("governance"), "governance")
    products = _parse_products(section.products, errors)
    ladders = _parse_ladders(section.ladders, products, errors)
    org_types = _parse_org_types(section.orgTypes, ladders, errors)
    return Catalog(org_types=org_types, ladders=ladders, products=products), errors
