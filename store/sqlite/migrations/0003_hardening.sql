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

-- What the card network is told (a paper agent's approval is declined at
-- the network), and whether an authorization spends (a charge) or brings
-- money back to the card (an issuer's credit authorization).
ALTER TABLE authorizations ADD COLUMN kind TEXT NOT NULL DEFAULT 'charge' CHECK (kind IN ('charge', 'credit'));
ALTER TABLE authorizations ADD COLUMN network_answer TEXT NOT NULL DEFAULT '' CHECK (network_answer IN ('', 'approve', 'decline'));
UPDATE authorizations SET network_answer = CASE WHEN status <> 'declined' AND paper = 0 THEN 'approve' ELSE 'decline' END;
