-- Governance: who signs in, what they own, and the plans whose entitlements govern their pool.
-- The names follow the specification; PostgreSQL's `billing.` schema is the `billing_` prefix here. The rules that
-- must hold under concurrency are constraints, never read-then-write: one user per (issuer, subject), one person per
-- user, unique slugs, one personal organization per person, one default pool per organization, one primary pool
-- per workspace, one active provision per pool, one ladder position per pool. Booleans are 0/1 integers (BOOLEAN on
-- PostgreSQL); instants are fixed-width UTC text (sidecar/timeutil.py); entitlement values are JSON text (jsonb).

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    email       TEXT,
    username    TEXT,
    created_at  TEXT NOT NULL,
    -- The subject is issuer plus sub, never the email (an email can move to another person).
    UNIQUE (issuer, subject)
);

CREATE TABLE persons (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL UNIQUE REFERENCES users (id),
    display_name  TEXT NOT NULL,
    email         TEXT,
    created_at    TEXT NOT NULL
);

-- The catalog (synchronized from settings.json's `governance` section, keyed by its names).
CREATE TABLE entitlement_sets (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE entitlement_set_items (
    entitlement_set_id  TEXT NOT NULL REFERENCES entitlement_sets (id),
    key                 TEXT NOT NULL,
    value               TEXT NOT NULL,
    PRIMARY KEY (entitlement_set_id, key)
);

CREATE TABLE billing_products (
    id                  TEXT PRIMARY KEY,
    key                 TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    entitlement_set_id  TEXT NOT NULL REFERENCES entitlement_sets (id),
    -- A product dropped from the catalog stays (grants refer to it) but is no longer offered.
    is_active           INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    updated_at          TEXT NOT NULL
);

CREATE TABLE billing_plan_ladders (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    is_active   INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    updated_at  TEXT NOT NULL
);

CREATE TABLE billing_plan_ladder_tiers (
    ladder_id   TEXT NOT NULL REFERENCES billing_plan_ladders (id),
    rank        INTEGER NOT NULL CHECK (rank >= 0),
    product_id  TEXT NOT NULL REFERENCES billing_products (id),
    PRIMARY KEY (ladder_id, rank),
    UNIQUE (ladder_id, product_id)
);

CREATE TABLE org_types (
    key                     TEXT PRIMARY KEY,
    default_plan_ladder_id  TEXT REFERENCES billing_plan_ladders (id),
    updated_at              TEXT NOT NULL
);

-- What people own.
CREATE TABLE organizations (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    slug                  TEXT NOT NULL UNIQUE,
    org_type              TEXT NOT NULL REFERENCES org_types (key),
    created_by_person_id  TEXT REFERENCES persons (id),
    created_at            TEXT NOT NULL
);

-- Exactly one personal organization per person, whoever races to create it.
CREATE UNIQUE INDEX organizations_one_personal_per_person
    ON organizations (created_by_person_id) WHERE org_type = 'personal';

CREATE TABLE org_members (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    person_id        TEXT NOT NULL REFERENCES persons (id),
    role             TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at       TEXT NOT NULL,
    UNIQUE (organization_id, person_id)
);

CREATE TABLE workspaces (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE resource_pools (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    pool_type        TEXT NOT NULL,
    is_auto_managed  INTEGER NOT NULL CHECK (is_auto_managed IN (0, 1)),
    created_at       TEXT NOT NULL
);

CREATE UNIQUE INDEX resource_pools_one_default_per_org
    ON resource_pools (organization_id) WHERE pool_type = 'default';

CREATE TABLE pool_assignments (
    id            TEXT PRIMARY KEY,
    pool_id       TEXT NOT NULL REFERENCES resource_pools (id),
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    is_primary    INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
    created_at    TEXT NOT NULL,
    UNIQUE (pool_id, workspace_id)
);

CREATE UNIQUE INDEX pool_assignments_one_primary_per_workspace
    ON pool_assignments (workspace_id) WHERE is_primary = 1;

CREATE TABLE billing_accounts (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    created_at       TEXT NOT NULL,
    UNIQUE (organization_id, name)
);

-- What was granted, to whom, why; and how it reached a pool.
CREATE TABLE grants (
    id                    TEXT PRIMARY KEY,
    organization_id       TEXT NOT NULL REFERENCES organizations (id),
    billing_account_id    TEXT REFERENCES billing_accounts (id),
    product_id            TEXT NOT NULL REFERENCES billing_products (id),
    entitlement_set_id    TEXT NOT NULL REFERENCES entitlement_sets (id),
    granted_by_person_id  TEXT REFERENCES persons (id),
    grant_reason          TEXT NOT NULL CHECK (grant_reason IN ('default', 'purchase', 'manual')),
    status                TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    quantity              INTEGER NOT NULL CHECK (quantity > 0),
    created_at            TEXT NOT NULL,
    ended_at              TEXT
);

CREATE TABLE pool_provisions (
    id          TEXT PRIMARY KEY,
    pool_id     TEXT NOT NULL REFERENCES resource_pools (id),
    grant_id    TEXT NOT NULL UNIQUE REFERENCES grants (id),
    status      TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    created_at  TEXT NOT NULL,
    ended_at    TEXT,
    CHECK ((status = 'ended') = (ended_at IS NOT NULL))
);

-- Two grants racing on one pool cannot both become its active provision.
CREATE UNIQUE INDEX pool_provisions_one_active_per_pool
    ON pool_provisions (pool_id) WHERE status = 'active';

-- The pool's entitlements, materialized from its active provision so reads never walk the catalog.
CREATE TABLE pool_entitlements (
    pool_id          TEXT NOT NULL REFERENCES resource_pools (id),
    key              TEXT NOT NULL,
    value            TEXT NOT NULL,
    provision_id     TEXT NOT NULL REFERENCES pool_provisions (id),
    materialized_at  TEXT NOT NULL,
    PRIMARY KEY (pool_id, key)
);

-- A pool stands on at most one ladder, at one rank.
CREATE TABLE pool_provision_ladders (
    pool_id     TEXT PRIMARY KEY REFERENCES resource_pools (id),
    ladder_id   TEXT NOT NULL REFERENCES billing_plan_ladders (id),
    rank        INTEGER NOT NULL CHECK (rank >= 0),
    updated_at  TEXT NOT NULL
);

CREATE TABLE pool_provision_transitions (
    id               TEXT PRIMARY KEY,
    pool_id          TEXT NOT NULL REFERENCES resource_pools (id),
    ladder_id        TEXT REFERENCES billing_plan_ladders (id),
    transition_type  TEXT NOT NULL CHECK (transition_type IN ('initiate', 'upgrade', 'downgrade', 'end')),
    from_rank        INTEGER,
    to_rank          INTEGER,
    actor_type       TEXT NOT NULL CHECK (actor_type IN ('system', 'person')),
    actor_person_id  TEXT REFERENCES persons (id),
    reason           TEXT NOT NULL,
    occurred_at      TEXT NOT NULL,
    CHECK ((actor_type = 'person') = (actor_person_id IS NOT NULL))
);

CREATE INDEX pool_provision_transitions_by_pool ON pool_provision_transitions (pool_id, occurred_at);
