-- Governance on PostgreSQL: the tables of ../0002_governance.sql with the specification's names, the billing
-- catalog in the `billing` schema (billing.accounts, billing.products, billing.plan_ladders,
-- billing.plan_ladder_tiers); BOOLEAN for booleans, timestamptz for instants, jsonb for entitlement values.
CREATE SCHEMA IF NOT EXISTS billing;

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    email       TEXT,
    username    TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (issuer, subject)
);

CREATE TABLE persons (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL UNIQUE REFERENCES users (id),
    display_name  TEXT NOT NULL,
    email         TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE entitlement_sets (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE entitlement_set_items (
    entitlement_set_id  TEXT NOT NULL REFERENCES entitlement_sets (id),
    key                 TEXT NOT NULL,
    value               JSONB NOT NULL,
    PRIMARY KEY (entitlement_set_id, key)
);

CREATE TABLE billing.products (
    id                  TEXT PRIMARY KEY,
    key                 TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    entitlement_set_id  TEXT NOT NULL REFERENCES entitlement_sets (id),
    is_active           BOOLEAN NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE billing.plan_ladders (
    id          TEXT PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    is_active   BOOLEAN NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE billing.plan_ladder_tiers (
    ladder_id   TEXT NOT NULL REFERENCES billing.plan_ladders (id),
    rank        INTEGER NOT NULL CHECK (rank >= 0),
    product_id  TEXT NOT NULL REFERENCES billing.products (id),
    PRIMARY KEY (ladder_id, rank),
    UNIQUE (ladder_id, product_id)
);

CREATE TABLE org_types (
    key                     TEXT PRIMARY KEY,
    default_plan_ladder_id  TEXT REFERENCES billing.plan_ladders (id),
    updated_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE organizations (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    slug                  TEXT NOT NULL UNIQUE,
    org_type              TEXT NOT NULL REFERENCES org_types (key),
    created_by_person_id  TEXT REFERENCES persons (id),
    created_at            TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX organizations_one_personal_per_person
    ON organizations (created_by_person_id) WHERE org_type = 'personal';

CREATE TABLE org_members (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    person_id        TEXT NOT NULL REFERENCES persons (id),
    role             TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, person_id)
);

CREATE TABLE workspaces (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE resource_pools (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    pool_type        TEXT NOT NULL,
    is_auto_managed  BOOLEAN NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX resource_pools_one_default_per_org
    ON resource_pools (organization_id) WHERE pool_type = 'default';

CREATE TABLE pool_assignments (
    id            TEXT PRIMARY KEY,
    pool_id       TEXT NOT NULL REFERENCES resource_pools (id),
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    is_primary    BOOLEAN NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (pool_id, workspace_id)
);

CREATE UNIQUE INDEX pool_assignments_one_primary_per_workspace
    ON pool_assignments (workspace_id) WHERE is_primary;

CREATE TABLE billing.accounts (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    name             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE grants (
    id                    TEXT PRIMARY KEY,
    organization_id       TEXT NOT NULL REFERENCES organizations (id),
    billing_account_id    TEXT REFERENCES billing.accounts (id),
    product_id            TEXT NOT NULL REFERENCES billing.products (id),
    entitlement_set_id    TEXT NOT NULL REFERENCES entitlement_sets (id),
    granted_by_person_id  TEXT REFERENCES persons (id),
    grant_reason          TEXT NOT NULL CHECK (grant_reason IN ('default', 'purchase', 'manual')),
    status                TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    quantity              INTEGER NOT NULL CHECK (quantity > 0),
    created_at            TIMESTAMPTZ NOT NULL,
    ended_at              TIMESTAMPTZ
);

CREATE TABLE pool_provisions (
    id          TEXT PRIMARY KEY,
    pool_id     TEXT NOT NULL REFERENCES resource_pools (id),
    grant_id    TEXT NOT NULL UNIQUE REFERENCES grants (id),
    status      TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    created_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    CHECK ((status = 'ended') = (ended_at IS NOT NULL))
);

CREATE UNIQUE INDEX pool_provisions_one_active_per_pool
    ON pool_provisions (pool_id) WHERE status = 'active';

CREATE TABLE pool_entitlements (
    pool_id          TEXT NOT NULL REFERENCES resource_pools (id),
    key              TEXT NOT NULL,
    value            JSONB NOT NULL,
    provision_id     TEXT NOT NULL REFERENCES pool_provisions (id),
    materialized_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pool_id, key)
);

CREATE TABLE pool_provision_ladders (
    pool_id     TEXT PRIMARY KEY REFERENCES resource_pools (id),
    ladder_id   TEXT NOT NULL REFERENCES billing.plan_ladders (id),
    rank        INTEGER NOT NULL CHECK (rank >= 0),
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE pool_provision_transitions (
    id               TEXT PRIMARY KEY,
    pool_id          TEXT NOT NULL REFERENCES resource_pools (id),
    ladder_id        TEXT REFERENCES billing.plan_ladders (id),
    transition_type  TEXT NOT NULL CHECK (transition_type IN ('initiate', 'upgrade', 'downgrade', 'end')),
    from_rank        INTEGER,
    to_rank          INTEGER,
    actor_type       TEXT NOT NULL CHECK (actor_type IN ('system', 'person')),
    actor_person_id  TEXT REFERENCES persons (id),
    reason           TEXT NOT NULL,
    occurred_at      TIMESTAMPTZ NOT NULL,
    CHECK ((actor_type = 'person') = (actor_person_id IS NOT NULL))
);

CREATE INDEX pool_provision_transitions_by_pool ON pool_provision_transitions (pool_id, occurred_at);
