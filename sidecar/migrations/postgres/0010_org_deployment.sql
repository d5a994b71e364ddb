-- PostgreSQL: the same columns and check as ../0010_org_deployment.sql.
-- What each org holds of the project, so a re-provision or a hydrated pool org deploys only what changed (see
-- sidecar/provisioning/delta.py). deployed_commit is the commit of the last successful deploy (shown on the wire);
-- source_state is that deploy's SourceState as one JSON value, step_inputs the hashes of the data plan, user
-- definition and permission sets the org already got (JSON); both NULL means nothing is known (a full deploy).
-- hydration is NULL for an org nobody hydrated, 'hydrating' while pre-warm deploys the project to it and 'failed'
-- when that did not finish: the claim excludes both, so a half-built org is never handed out.
ALTER TABLE scratch_orgs ADD COLUMN deployed_commit TEXT;
ALTER TABLE scratch_orgs ADD COLUMN source_state TEXT;
ALTER TABLE scratch_orgs ADD COLUMN step_inputs TEXT;
ALTER TABLE scratch_orgs ADD COLUMN hydration TEXT CHECK (hydration IN ('hydrating', 'failed', 'ready'));
