-- Which sidecar instance brought each org into a shared pool, and the org's auth URL sealed with the team key (see
-- sidecar/pool/teamkey.py): another desktop's CLI does not know an org this one made, so it is logged in with the
-- stored URL first (sidecar/pool/handover.py). The URL is never stored in clear: key_id, nonce and ciphertext are
-- base64 text of an AES-GCM sealing bound to the org id, all three NULL when no team key was set (the org then
-- works on its own machine only). The row goes with its org (ON DELETE CASCADE; foreign keys are on, see db.py).
CREATE TABLE org_auth_urls (
    org_id          TEXT PRIMARY KEY REFERENCES scratch_orgs (id) ON DELETE CASCADE,
    origin_instance TEXT NOT NULL,
    origin_machine  TEXT NOT NULL,
    key_id          TEXT,
    nonce           TEXT,
    ciphertext      TEXT,
    captured_at     TEXT NOT NULL,
    CHECK ((key_id IS NULL) = (ciphertext IS NULL) AND (nonce IS NULL) = (ciphertext IS NULL))
);
