-- agentledger schema, version 1.
-- Times are INTEGER microseconds since the Unix epoch (UTC); money is INTEGER
-- minor units; JSON columns hold engine structures that are read and written
-- whole and never queried into.

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL DEFAULT '',
    kyc_status  TEXT NOT NULL CHECK (kyc_status IN ('pending', 'approved', 'rejected')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users (id),
    mode        TEXT NOT NULL CHECK (mode IN ('live', 'paper', 'approval_only', 'disabled')),
    policy      TEXT NOT NULL,
    risk        TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX agents_user ON agents (user_id);

CREATE TABLE cards (
    id               TEXT PRIMARY KEY,
    agent_id         TEXT NOT NULL REFERENCES agents (id),
    type             TEXT NOT NULL CHECK (type IN ('single_use', 'multi_use')),
    status           TEXT NOT NULL CHECK (status IN ('active', 'frozen', 'closed')),
    last4            TEXT NOT NULL,
    exp_month        INTEGER NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year         INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    purpose          TEXT NOT NULL DEFAULT '',
    limits           TEXT NOT NULL,
    -- HMAC-SHA256 of the PAN under a key derived from the store key: lets a
    -- network look a card up by number without the number being stored.
    pan_fingerprint  BLOB NOT NULL UNIQUE,
    -- AES-256-GCM sealed PAN and CVV (nonce || ciphertext).
    secret           BLOB NOT NULL,
    frozen_by        TEXT NOT NULL DEFAULT '',
    frozen_at        INTEGER,
    closed_by        TEXT NOT NULL DEFAULT '',
    closed_at        INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX cards_agent ON cards (agent_id);

CREATE TABLE intents (
    id                TEXT PRIMARY KEY,
    agent_id          TEXT NOT NULL REFERENCES agents (id),
    card_id           TEXT REFERENCES cards (id),
    summary           TEXT NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    merchant          TEXT NOT NULL DEFAULT '',
    mcc               TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('awaiting_approval', 'pending', 'revealed', 'matched',
                                                      'mismatched', 'denied', 'cancelled', 'expired')),
    ttl_seconds       INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    decision_id       TEXT NOT NULL DEFAULT '',
    authorization_id  TEXT NOT NULL DEFAULT '',
    attestation       TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    revealed_at       INTEGER,
    resolved_at       INTEGER
) STRICT;
-- Index columns are chosen so that resolving an intent (the common update)
-- touches only the small index of open intents: intents_agent never changes
-- and intents_open loses one entry.
CREATE INDEX intents_agent ON intents (agent_id);
CREATE INDEX intents_open ON intents (agent_id, card_id, expires_at) WHERE status IN ('awaiting_approval', 'pending', 'revealed');

CREATE TABLE authorizations (
    id                TEXT PRIMARY KEY,
    network_id        TEXT NOT NULL UNIQUE,
    card_id           TEXT REFERENCES cards (id),
    agent_id          TEXT REFERENCES agents (id),
    user_id           TEXT REFERENCES users (id),
    status            TEXT NOT NULL CHECK (status IN ('approved', 'declined', 'settled', 'reversed', 'expired')),
    decline_code      TEXT NOT NULL DEFAULT '',
    reason            TEXT NOT NULL,
    amount            INTEGER NOT NULL CHECK (amount > 0),
    currency          TEXT NOT NULL,
    merchant_name     TEXT NOT NULL,
    merchant_mcc      TEXT NOT NULL DEFAULT '',
    merchant_id       TEXT NOT NULL DEFAULT '',
    merchant_country  TEXT NOT NULL DEFAULT '',
    intent_id         TEXT NOT NULL DEFAULT '',
    decision_id       TEXT NOT NULL DEFAULT '',
    risk_score        INTEGER NOT NULL,
    risk_signals      TEXT NOT NULL,
    risk_review       INTEGER NOT NULL,
    checks            TEXT NOT NULL,
    paper             INTEGER NOT NULL,
    settled_amount    INTEGER NOT NULL DEFAULT 0 CHECK (settled_amount BETWEEN 0 AND amount),
    refunded_amount   INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND settled_amount),
    hold_id           TEXT NOT NULL DEFAULT '',
    hold_expires_at   INTEGER,
    day               TEXT NOT NULL DEFAULT '',
    month             TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX authorizations_agent ON authorizations (agent_id, created_at);
CREATE INDEX authorizations_card ON authorizations (card_id, created_at);
CREATE INDEX authorizations_holds ON authorizations (hold_expires_at) WHERE status = 'approved';

CREATE TABLE decisions (
    id                       TEXT PRIMARY KEY,
    agent_id                 TEXT NOT NULL REFERENCES agents (id),
    kind                     TEXT NOT NULL CHECK (kind IN ('policy_check', 'intent_approval')),
    action_type              TEXT NOT NULL,
    amount                   INTEGER NOT NULL CHECK (amount > 0),
    currency                 TEXT NOT NULL,
    merchant                 TEXT NOT NULL DEFAULT '',
    mcc                      TEXT NOT NULL DEFAULT '',
    agent_reason             TEXT NOT NULL DEFAULT '',
    status                   TEXT NOT NULL CHECK (status IN ('approved', 'blocked', 'requires_approval', 'reduced')),
    reason                   TEXT NOT NULL,
    requires_human_approval  INTEGER NOT NULL,
    allowed_amount           INTEGER,
    policy_checks            TEXT NOT NULL,
    risk_score               INTEGER NOT NULL,
    dry_run                  INTEGER NOT NULL,
    paper                    INTEGER NOT NULL,
    approval_status          TEXT NOT NULL DEFAULT '' CHECK (approval_status IN ('', 'pending', 'approved', 'denied', 'expired', 'executed')),
    approval_expires_at      INTEGER,
    decided_by               TEXT NOT NULL DEFAULT '',
    decided_at               INTEGER,
    decision_note            TEXT NOT NULL DEFAULT '',
    executed_at              INTEGER,
    intent_id                TEXT NOT NULL DEFAULT '',
    authorization_id         TEXT NOT NULL DEFAULT '',
    -- What the decision added to the agent's windows, and when.
    counted                  INTEGER NOT NULL DEFAULT 0,
    counted_at               INTEGER,
    day                      TEXT NOT NULL DEFAULT '',
    month                    TEXT NOT NULL DEFAULT '',
    created_at               INTEGER NOT NULL,
    updated_at               INTEGER NOT NULL
) STRICT;
CREATE INDEX decisions_agent ON decisions (agent_id, approval_status);
CREATE INDEX decisions_approvals ON decisions (approval_status, approval_expires_at) WHERE approval_status <> '';
CREATE INDEX decisions_counted ON decisions (agent_id, counted_at) WHERE counted > 0;

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'viewer')),
    agent_id    TEXT REFERENCES agents (id),
    name        TEXT NOT NULL DEFAULT '',
    prefix      TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    CHECK ((role = 'agent') = (agent_id IS NOT NULL))
) STRICT;

-- Spend counters per scope (an agent in a currency, or a card) and period
-- (a day, a month, or the lifetime), kept in step with every counted spend.
CREATE TABLE counters (
    scope   TEXT NOT NULL,
    period  TEXT NOT NULL,
    amount  INTEGER NOT NULL CHECK (amount >= 0),
    count   INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (scope, period)
) STRICT, WITHOUT ROWID;

-- Merchants and categories each agent has had an approved spend at (risk).
CREATE TABLE merchants_seen (
    agent_id       TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('merchant', 'mcc')),
    key            TEXT NOT NULL,
    first_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (agent_id, kind, key)
) STRICT, WITHOUT ROWID;

-- The ledger (DESIGN §6).
CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('user', 'paper', 'system')),
    owner_id         TEXT NOT NULL,
    currency         TEXT NOT NULL,
    debits_pending   INTEGER NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted    INTEGER NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending  INTEGER NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted   INTEGER NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    -- The engine checks funds before it writes; this is the last line.
    CHECK (kind = 'system' OR credits_posted - debits_posted - debits_pending >= 0)
) STRICT, WITHOUT ROWID;

CREATE TABLE transfers (
    id                 TEXT PRIMARY KEY NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
    debit_account_id   TEXT NOT NULL REFERENCES accounts (id),
    credit_account_id  TEXT NOT NULL REFERENCES accounts (id),
    amount             INTEGER NOT NULL CHECK (amount > 0),
    currency           TEXT NOT NULL,
    -- A post or void names the pending transfer it resolves.
    pending_id         TEXT REFERENCES transfers (id),
    reference          TEXT NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL))
) STRICT, WITHOUT ROWID;
-- At most one resolution per hold: a second post or void is impossible.
CREATE UNIQUE INDEX transfers_resolution ON transfers (pending_id) WHERE pending_id IS NOT NULL;

CREATE TABLE idempotency (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    operation     TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    response      BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT, WITHOUT ROWID;
