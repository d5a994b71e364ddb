-- Shapes and expiry warnings (issue 12). `shape` is the hash of the scratch definition an org was created from plus
-- its Dev Hub (sidecar/pool/shapes.py); NULL is "unknown" (registered or discovered without one). A claim filters
-- on it in its own statement, so an org of one shape is never leased to an agent that asked for another.
ALTER TABLE scratch_orgs ADD COLUMN shape TEXT;
ALTER TABLE scratch_orgs ADD COLUMN definition_name TEXT;
CREATE INDEX scratch_orgs_shape ON scratch_orgs (shape, status, expires_at);

-- One row per warning sent: `org:expiring` goes out once per (org, agent, kind), whatever restarts in between. The
-- primary key is the "once": the insert that loses (ON CONFLICT DO NOTHING) sends nothing.
CREATE TABLE org_expiry_warnings (
    org_id    TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('early', 'final')),
    sent_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, agent_id, kind)
);
