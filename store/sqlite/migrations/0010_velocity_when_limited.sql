-- Velocity scopes of agents only while their policy has a velocity limit
-- (version 10). An agent's scope ('agent:<id>') had a row for every spend,
-- limit or none; from this version it is kept only while the agent's
-- policy has one, and refilled from the agent's recent spends when a
-- policy gains one. An agentledger before version 10 would stop spends this
-- one never started (a reversal would fail), so it must refuse this file.

-- A refilled scope holds the spends from since on: an older spend's stop
-- (outside every window by then) is not recorded, and verify expects none
-- of the older ones.
CREATE TABLE velocity_fills (
    scope  TEXT PRIMARY KEY,
    since  INTEGER NOT NULL  -- unix microseconds
) STRICT, WITHOUT ROWID;

-- The scopes of agents without a limit go.
DELETE FROM velocity_spends WHERE scope IN (
    SELECT 'agent:' || id FROM agents WHERE policy ->> '$.velocity' IS NULL);
DELETE FROM velocity_removed WHERE scope IN (
    SELECT 'agent:' || id FROM agents WHERE policy ->> '$.velocity' IS NULL);
