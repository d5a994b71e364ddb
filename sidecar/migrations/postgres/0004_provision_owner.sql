-- Run owners and heartbeats on PostgreSQL (see ../0004_provision_owner.sql).
ALTER TABLE provision_runs ADD COLUMN owner_host TEXT;
ALTER TABLE provision_runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE provision_runs ADD COLUMN owner_token TEXT;
ALTER TABLE provision_runs ADD COLUMN heartbeat_at TIMESTAMPTZ;

CREATE TABLE provision_run_children (
    run_id      TEXT NOT NULL REFERENCES provision_runs (id) ON DELETE CASCADE,
    pgid        INTEGER NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, pgid)
);
