-- PostgreSQL: the same table and checks as ../0012_auth_urls.sql (the origin of each org in the shared pool and
-- its auth URL sealed with the team key; never in clear; deleted with its org).
CREATE TABLE org_auth_urls (
    org_id          TEXT PRIMARY KEY REFERENCES scratch_orgs (id) ON DELETE CASCADE,
    origin_instance TEXT NOT NULL,
    origin_machine  TEXT NOT NULL,
    key_id          TEXT,
    nonce           TEXT,
    ciphertext      TEXT,
    captured_at     TIMESTAMPTZ NOT NULL,
    CHECK ((key_id IS NULL) = (ciphertext IS NULL) AND (nonce IS NULL) = (ciphertext IS NULL))
);
