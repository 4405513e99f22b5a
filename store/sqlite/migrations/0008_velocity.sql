-- Velocity windows (version 8) at a cost that does not grow with history.
-- A velocity limit counts the spends of a scope ('agent:<id>': an agent's
-- charges and counted policy decisions, in every currency; 'card:<id>': a
-- card's charges) that counted at or after now minus the window, to the
-- microsecond. Counting the authorizations themselves read every spend in
-- the window (15.8 ms a decision with 24,000 in a day). A card's scope is
-- kept only when the card has a velocity limit (a card's limits are fixed).

-- One row per scope and microsecond at which it spent: n spends counted
-- then, removed of them have stopped counting since (reversed, expired),
-- and cum is the running sum of n over the scope's rows up to this one.
-- The spends at or after a time are the last row's cum minus the cum
-- before the first row at or after it (two seeks), less the removed ones.
-- A new spend is appended at the scope's end (one page); one recorded
-- out of order (another process's clock behind) adds to the cum of the
-- rows after it, which the triggers below do.
CREATE TABLE velocity_spends (
    scope    TEXT NOT NULL,
    at       INTEGER NOT NULL,  -- unix microseconds
    n        INTEGER NOT NULL CHECK (n > 0),
    removed  INTEGER NOT NULL DEFAULT 0 CHECK (removed BETWEEN 0 AND n),
    cum      INTEGER NOT NULL CHECK (cum >= n),
    PRIMARY KEY (scope, at)
) STRICT, WITHOUT ROWID;

-- Removed spends by the time they counted, in buckets of 1 s, 1 min, 1 h
-- and 1 day (width in microseconds): a reversal of an old spend changes
-- the cum of every row after it, so removals are summed instead, over at
-- most 59 + 59 + 23 + 32 buckets, with those of the window's first second
-- read from velocity_spends.removed.
CREATE TABLE velocity_removed (
    scope  TEXT NOT NULL,
    width  INTEGER NOT NULL,
    start  INTEGER NOT NULL,  -- unix microseconds, a multiple of width
    n      INTEGER NOT NULL CHECK (n > 0),
    PRIMARY KEY (scope, width, start)
) STRICT, WITHOUT ROWID;

-- The spends that count today, so that an upgraded database is exact at
-- once; those that stopped counting need no row.
INSERT INTO velocity_spends (scope, at, n, cum)
SELECT scope, at, count(*), sum(count(*)) OVER (PARTITION BY scope ORDER BY at)
FROM (
    SELECT 'agent:' || agent_id AS scope, created_at AS at FROM authorizations
        WHERE kind = 'charge' AND status IN ('approved', 'settled') AND agent_id IS NOT NULL
    UNION ALL
    SELECT 'card:' || card_id, created_at FROM authorizations
        WHERE kind = 'charge' AND status IN ('approved', 'settled')
            AND card_id IN (SELECT id FROM cards WHERE limits ->> '$.velocity' IS NOT NULL)
    UNION ALL
    SELECT 'agent:' || agent_id, counted_at FROM decisions WHERE counted > 0
)
GROUP BY scope, at;

-- Keep cum a running sum when spends are recorded before the scope's last
-- row (after the fill, whose rows carry their cum already).
CREATE TRIGGER velocity_spends_insert AFTER INSERT ON velocity_spends BEGIN
    UPDATE velocity_spends SET cum = cum + NEW.n WHERE scope = NEW.scope AND at > NEW.at;
END;
CREATE TRIGGER velocity_spends_update AFTER UPDATE OF n ON velocity_spends BEGIN
    UPDATE velocity_spends SET cum = cum + NEW.n - OLD.n WHERE scope = NEW.scope AND at > NEW.at;
END;
