"""Synchronize the catalog declared in settings.json into the catalog tables, in the caller's transaction.

Keyed by the catalog's names, by upsert: running it twice (or in two processes at once) changes nothing the
second time. Entries gone from the file are deactivated, never deleted, because grants and organizations refer
to them. A product's entitlement set is updated in place, so afterwards every pool with an active provision is
re-materialized: a change to a tier's entitlements reaches the pools on that tier without a restart.
"""

from __future__ import annotations

from datetime import datetime

from sidecar.governance import store
from sidecar.governance.catalog import Catalog
from sidecar.storage.connection import Connection
from sidecar.storage.ids import new_id


async def sync_catalog(conn: Connection, catalog: Catalog, now: datetime) -> None:
    product_ids: dict[str, str] = {}
    for key, product in catalog.products.items():
        set_id = await store.upsert_entitlement_set(conn, new_id("ens"), key, now)
        await store.replace_entitlement_items(conn, set_id, product.entitlements)
        product_ids[key] = await store.upsert_product(conn, new_id("prd"), key, product.name, set_id, now)
    await store.deactivate_products_except(conn, list(catalog.products), now)

    ladder_ids: dict[str, str] = {}
    for key, tiers in catalog.ladders.items():
        ladder_ids[key] = await store.upsert_ladder(conn, new_id("lad"), key, now)
        await store.replace_ladder_tiers(conn, ladder_ids[key], [product_ids[p] for p in tiers])
    await store.deactivate_ladders_except(conn, list(catalog.ladders), now)

    for key, ladder in catalog.org_types.items():
        await store.upsert_org_type(conn, key, ladder_ids[ladder] if ladder else None, now)
    await store.clear_org_types_except(conn, list(catalog.org_types), now)

    for pool_id in await store.pools_with_active_provision(conn):
        await store.materialize_entitlements(conn, pool_id, now)
