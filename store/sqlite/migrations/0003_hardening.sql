-- Hardening (version 3).

-- max_transactions_per_day counts an agent's spends in every currency: one
-- counter per agent and period, "agent:<id>", holding counts only. Existing
-- per-currency counters ("agent:<id>:<CUR>") are summed into it.
INSERT INTO counters (scope, period, amount, count)
SELECT substr(scope, 1, length(scope) - 4), period, 0, sum(count)
FROM counters
WHERE scope LIKE 'agent:%:___'
GROUP BY substr(scope, 1, length(scope) - 4), period
HAVING sum(count) > 0;

-- The organisation's settings: its time zone keys every daily and monthly
-- window, so it lives in the database where every process reads it.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO settings (key, value, updated_at) VALUES ('timezone', 'UTC', 0);
