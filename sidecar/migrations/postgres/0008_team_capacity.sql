-- The team's capacity (see ../0008_team_capacity.sql), on the row capacity decisions already lock FOR UPDATE.
ALTER TABLE pool_state ADD COLUMN max_orgs INTEGER CHECK (max_orgs >= 0);
