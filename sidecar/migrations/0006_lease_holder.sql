-- Who holds each lease in a pool several machines share: the sidecar instance (sidecar/pool/holder.py) and the
-- machine name people read. One org per agent becomes one org per (instance, agent): agent ids are unique per
-- machine only. On a SQLite file every sidecar is the one machine, instance 'local', so leases written before
-- this migration stay with their agents.
ALTER TABLE scratch_orgs ADD COLUMN holder_instance TEXT;
ALTER TABLE scratch_orgs ADD COLUMN holder_machine TEXT;
UPDATE scratch_orgs SET holder_instance = 'local' WHERE status = 'leased';
DROP INDEX scratch_orgs_one_org_per_agent;
CREATE UNIQUE INDEX scratch_orgs_one_org_per_agent ON scratch_orgs (holder_instance, assigned_agent_id);

-- A lease, and only a lease, names its holder (PostgreSQL checks this with a CHECK; SQLite cannot add one to an
-- existing table, so triggers refuse the write with a constraint error instead).
CREATE TRIGGER scratch_orgs_lease_has_holder_insert BEFORE INSERT ON scratch_orgs
WHEN (NEW.status = 'leased') <> (NEW.holder_instance IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: scratch_orgs_lease_has_holder');
END;
CREATE TRIGGER scratch_orgs_lease_has_holder_update BEFORE UPDATE ON scratch_orgs
WHEN (NEW.status = 'leased') <> (NEW.holder_instance IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: scratch_orgs_lease_has_holder');
END;
