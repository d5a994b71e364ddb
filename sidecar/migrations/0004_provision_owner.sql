-- Who runs each provisioning run, so sidecars sharing this database never take each other's live runs for
-- interrupted ones (see sidecar/provisioning/owner.py). The owner refreshes heartbeat_at while the run is live; a
-- run with no owner was started before this migration and is judged as before. Instants are fixed-width UTC text.
ALTER TABLE provision_runs ADD COLUMN owner_host TEXT;
ALTER TABLE provision_runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE provision_runs ADD COLUMN owner_token TEXT;
ALTER TABLE provision_runs ADD COLUMN heartbeat_at TEXT;

-- The process groups a run's commands lead while they run (up to three at once: data, users and permission sets
-- overlap), so whoever finds the run orphaned can stop them. A row lives only as long as its command.
CREATE TABLE provision_run_children (
    run_id      TEXT NOT NULL REFERENCES provision_runs (id) ON DELETE CASCADE,
    pgid        INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    PRIMARY KEY (run_id, pgid)
);
