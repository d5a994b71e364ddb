-- The scratch-org pool. The lease rules live here as constraints, so a buggy caller cannot break them:
-- one column holds the owner (an org has at most one agent), a unique index gives an agent at most one org,
-- and a leased org must name its agent. Instants are fixed-width UTC text (see sidecar/timeutil.py).
CREATE TABLE scratch_orgs (
    id                TEXT PRIMARY KEY,
    alias             TEXT NOT NULL,
    username          TEXT,
    sf_org_id         TEXT,
    instance_url      TEXT,
    login_url         TEXT,
    status            TEXT NOT NULL CHECK (status IN ('available', 'leased', 'expired')),
    assigned_agent_id TEXT,
    leased_at         TEXT,
    expires_at        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('manual', 'discovered', 'provisioned')),
    CHECK ((status = 'leased') = (assigned_agent_id IS NOT NULL)),
    CHECK ((status = 'leased') = (leased_at IS NOT NULL))
);

CREATE UNIQUE INDEX scratch_orgs_alias ON scratch_orgs (alias);
CREATE UNIQUE INDEX scratch_orgs_username ON scratch_orgs (username);
CREATE UNIQUE INDEX scratch_orgs_sf_org_id ON scratch_orgs (sf_org_id);
-- NULLs are distinct in both SQLite and PostgreSQL unique indexes: only leased rows compete.
CREATE UNIQUE INDEX scratch_orgs_one_org_per_agent ON scratch_orgs (assigned_agent_id);
CREATE INDEX scratch_orgs_claimable ON scratch_orgs (status, expires_at);
