-- PostgreSQL: the scratch org creations under way of ../0009_creation_jobs.sql; instants are timestamptz.
CREATE TABLE creation_jobs (
    job_id          TEXT PRIMARY KEY,
    holder_instance TEXT NOT NULL,
    alias           TEXT NOT NULL,
    username        TEXT,
    definition_file TEXT NOT NULL,
    cwd             TEXT,
    agent_id        TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    requested_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX creation_jobs_holder ON creation_jobs (holder_instance, requested_at);
