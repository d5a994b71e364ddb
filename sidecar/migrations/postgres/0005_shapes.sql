-- Shapes and expiry warnings on PostgreSQL (see ../0005_shapes.sql).
ALTER TABLE scratch_orgs ADD COLUMN shape TEXT;
ALTER TABLE scratch_orgs ADD COLUMN definition_name TEXT;
CREATE INDEX scratch_orgs_shape ON scratch_orgs (shape, status, expires_at);

CREATE TABLE org_expiry_warnings (
    org_id    TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('early', 'final')),
    sent_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, agent_id, kind)
);
