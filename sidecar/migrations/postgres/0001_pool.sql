-- The scratch-org pool on PostgreSQL: the same rules as ../0001_pool.sql, held by the same constraints.
-- Instants are timestamptz (aware datetimes from the code); NULLs are distinct in unique indexes, so only leased
-- rows compete for the one-org-per-agent index.
CREATE TABLE scratch_orgs (
    id                TEXT PRIMARY KEY,
    alias             TEXT NOT NULL,
    username          TEXT,
    sf_org_id         TEXT,
    instance_url      TEXT,
    login_url         TEXT,
    status            TEXT NOT NULL CHECK (status IN ('available', 'leased', 'expired')),
    assigned_agent_id TEXT,
    leased_at         TIMESTAMPTZ,
    expires_at        TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('manual', 'discovered', 'provisioned')),
    CHECK ((status = 'leased') = (assigned_agent_id IS NOT NULL)),
    CHECK ((status = 'leased') = (leased_at IS NOT NULL))
);

CREATE UNIQUE INDEX scratch_orgs_alias ON scratch_orgs (alias);
CREATE UNIQUE INDEX scratch_orgs_username ON scratch_orgs (username);
CREATE UNIQUE INDEX scratch_orgs_sf_org_id ON scratch_orgs (sf_org_id);
CREATE UNIQUE INDEX scratch_orgs_one_org_per_agent ON scratch_orgs (assigned_agent_id);
CREATE INDEX scratch_orgs_claimable ON scratch_orgs (status, expires_at);

-- The pool's own row: what a capacity decision locks (SELECT ... FOR UPDATE) so that two sidecars under READ
-- COMMITTED cannot both count "3 of 4" and both insert. One row, created here, never deleted.
CREATE TABLE pool_state (
    id  INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO pool_state (id) VALUES (1);
