-- Lease holders on PostgreSQL (see ../0006_lease_holder.sql); here the database also checks that a lease, and only
-- a lease, names its holder.
ALTER TABLE scratch_orgs ADD COLUMN holder_instance TEXT;
ALTER TABLE scratch_orgs ADD COLUMN holder_machine TEXT;
UPDATE scratch_orgs SET holder_instance = 'local' WHERE status = 'leased';
ALTER TABLE scratch_orgs ADD CONSTRAINT scratch_orgs_lease_has_holder
    CHECK ((status = 'leased') = (holder_instance IS NOT NULL));
DROP INDEX scratch_orgs_one_org_per_agent;
CREATE UNIQUE INDEX scratch_orgs_one_org_per_agent ON scratch_orgs (holder_instance, assigned_agent_id);
