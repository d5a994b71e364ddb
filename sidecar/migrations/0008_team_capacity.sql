-- The team's capacity, stored with the pool so every sidecar on a shared database enforces one number whatever
-- its own settings say (see PoolService.start_team). On a SQLite file it stays NULL: one desktop's orgPool.maxOrgs
-- rules as before. PostgreSQL has had this row since 0001 (the capacity lock); SQLite gets it here.
CREATE TABLE pool_state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    max_orgs  INTEGER CHECK (max_orgs >= 0)
);
INSERT INTO pool_state (id) VALUES (1);
