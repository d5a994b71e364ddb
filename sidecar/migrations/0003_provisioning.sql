-- Provisioning: the durable first-in-first-out queue of agents waiting for an org, and one record per run.
-- No foreign key to scratch_orgs: an org may be removed from the pool while its run's record stays as history.
-- Instants are fixed-width UTC text (see sidecar/timeutil.py). Nothing here ever holds a frontdoor URL.
CREATE TABLE provision_queue (
    seq           INTEGER PRIMARY KEY,
    agent_id      TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    org_alias     TEXT NOT NULL,
    branch_name   TEXT NOT NULL,
    worktree_path TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('capacity', 'devhub-limit')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    retry_at      TEXT,
    last_error    TEXT,
    queued_at     TEXT NOT NULL
);

-- Queue positions only grow, so a head put back after a Dev Hub refusal (same seq) stays ahead of later arrivals.
CREATE TABLE provision_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO provision_counters (name, value) VALUES ('queue_seq', 0);

-- An agent waits in the queue at most once.
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
    started_at    TEXT NOT NULL,
    ended_at      TEXT
);

CREATE INDEX provision_runs_agent ON provision_runs (agent_id, started_at);
-- One live (running or queued) run per agent, whatever a caller does.
CREATE UNIQUE INDEX provision_runs_one_live ON provision_runs (agent_id) WHERE state IN ('running', 'queued');
