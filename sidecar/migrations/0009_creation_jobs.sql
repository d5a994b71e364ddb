-- Scratch org creations under way in the Dev Hub (issue 12): one row per signup this sidecar instance started and
-- has not yet seen through, written the moment `sf org create scratch --async` returns its job id (the
-- ScratchOrgInfo id, 2SR...) and before anyone waits on it, deleted once the org is in the pool or deleted. A row
-- left by a sidecar that was killed is resumed (`sf org resume scratch --job-id`) at the next start; until then it
-- counts against maxOrgs like any creation in flight. holder_instance is the sidecar instance whose CLI cache holds
-- the job (only that machine's CLI can resume it). Instants are fixed-width UTC text (see sidecar/timeutil.py).
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
    requested_at    TEXT NOT NULL
);

CREATE INDEX creation_jobs_holder ON creation_jobs (holder_instance, requested_at);
