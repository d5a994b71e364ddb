-- (PostgreSQL, same as ../0007_provision_holder.sql.) The provisioning queue and runs of a database several machines share: each row names the sidecar instance whose
-- agent it is (sidecar/pool/holder.py), and "one queue entry / one live run per agent" becomes per (instance,
-- agent), since agent ids are unique per machine only. Rows written before this are the SQLite file's 'local'.
ALTER TABLE provision_queue ADD COLUMN holder_instance TEXT NOT NULL DEFAULT 'local';
DROP INDEX provision_queue_agent;
CREATE UNIQUE INDEX provision_queue_agent ON provision_queue (holder_instance, agent_id);

ALTER TABLE provision_runs ADD COLUMN holder_instance TEXT NOT NULL DEFAULT 'local';
DROP INDEX provision_runs_one_live;
CREATE UNIQUE INDEX provision_runs_one_live ON provision_runs (holder_instance, agent_id)
    WHERE state IN ('running', 'queued');
