-- Each sidecar instance's heartbeat (sidecar/pool/instances.py): a lease whose instance stopped beating for
-- orgPool.leaseTimeoutMinutes is ended by any live peer, so a desktop that closed, slept or crashed does not hold
-- the team's orgs forever. On a SQLite file every sidecar is the one instance 'local', which is live whenever a
-- sidecar runs: its leases are never reaped, as before.
CREATE TABLE sidecar_instances (
    instance_id   TEXT PRIMARY KEY,
    machine_name  TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL
);
