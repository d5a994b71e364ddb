-- Provisioning on PostgreSQL: the queue and run records of ../0003_provisioning.sql. Lists stay JSON text (the
-- store writes and reads them as text on both engines); instants are timestamptz.
CREATE TABLE provision_queue (
    seq           BIGINT PRIMARY KEY,
    agent_id      TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    org_alias     TEXT NOT NULL,
    branch_name   TEXT NOT NULL,
    worktree_path TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('capacity', 'devhub-limit')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    retry_at      TIMESTAMPTZ,
    last_error    TEXT,
    queued_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE provision_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO provision_counters (name, value) VALUES ('queue_seq', 0);

CREATE UNIQUE INDEX provision_queue_agent ON provision_queue (agent_id);

CREATE TABLE provision_runs (
    id            TEXT PRIMARY KEY,
    agent_id      TEXT NOT NULL,
    org_alias     TEXT NOT NULL,
    branch_name   TEXT NOT NULL,
    worktree_path TEXT NOT NULL,
    org_id        TEXT,
    state         TEXT NOT NULL
                  CHECK (state IN ('running', 'queued', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    step          TEXT,
    errors        TEXT NOT NULL DEFAULT '[]',
    warnings      TEXT NOT NULL DEFAULT '[]',
    steps         TEXT NOT NULL DEFAULT '[]',
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ
);

CREATE INDEX provision_runs_agent ON provision_runs (agent_id, started_at);
CREATE UNIQUE INDEX provision_runs_one_live ON provision_runs (agent_id) WHERE state IN ('running', 'queued');
