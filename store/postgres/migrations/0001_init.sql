-- The schema of a PostgreSQL store: the SQLite store's schema at its version
-- 10, with PostgreSQL's types. Times are BIGINT Unix microseconds, as in
-- SQLite, so both stores keep the same instants to the microsecond; flags are
-- BOOLEAN; secrets and hashes BYTEA. Every text column compares bytewise
-- (COLLATE "C") whatever the database's locale: ids are cursors, and a page
-- resumes after an id in byte order, as SQLite orders them.

CREATE TABLE users (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    email       TEXT COLLATE "C" NOT NULL DEFAULT '',
    kyc_status  TEXT COLLATE "C" NOT NULL CHECK (kyc_status IN ('pending', 'approved', 'rejected')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE agents (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    mode        TEXT COLLATE "C" NOT NULL CHECK (mode IN ('live', 'paper', 'approval_only', 'disabled')),
    policy      TEXT COLLATE "C" NOT NULL,
    risk        TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
, default_issuer TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE TABLE cards (
    id               TEXT COLLATE "C" PRIMARY KEY,
    agent_id         TEXT COLLATE "C" NOT NULL REFERENCES agents (id),
    type             TEXT COLLATE "C" NOT NULL CHECK (type IN ('single_use', 'multi_use')),
    status           TEXT COLLATE "C" NOT NULL CHECK (status IN ('active', 'frozen', 'closed')),
    last4            TEXT COLLATE "C" NOT NULL,
    exp_month        BIGINT NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year         BIGINT NOT NULL,
    currency         TEXT COLLATE "C" NOT NULL,
    purpose          TEXT COLLATE "C" NOT NULL DEFAULT '',
    limits           TEXT COLLATE "C" NOT NULL,
    -- HMAC-SHA256 of the PAN under a key derived from the store key: lets a
    -- network look a card up by number without the number being stored.
    pan_fingerprint  BYTEA NOT NULL UNIQUE,
    -- AES-256-GCM sealed PAN and CVV (nonce || ciphertext).
    secret           BYTEA NOT NULL,
    frozen_by        TEXT COLLATE "C" NOT NULL DEFAULT '',
    frozen_at        BIGINT,
    closed_by        TEXT COLLATE "C" NOT NULL DEFAULT '',
    closed_at        BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
, issuer TEXT COLLATE "C" NOT NULL DEFAULT '', issuer_card_id TEXT COLLATE "C" NOT NULL DEFAULT '');
CREATE TABLE intents (
    id                TEXT COLLATE "C" PRIMARY KEY,
    agent_id          TEXT COLLATE "C" NOT NULL REFERENCES agents (id),
    card_id           TEXT COLLATE "C" REFERENCES cards (id),
    summary           TEXT COLLATE "C" NOT NULL,
    amount            BIGINT NOT NULL CHECK (amount > 0),
    currency          TEXT COLLATE "C" NOT NULL,
    merchant          TEXT COLLATE "C" NOT NULL DEFAULT '',
    mcc               TEXT COLLATE "C" NOT NULL DEFAULT '',
    status            TEXT COLLATE "C" NOT NULL CHECK (status IN ('awaiting_approval', 'pending', 'revealed', 'matched',
                                                      'mismatched', 'denied', 'cancelled', 'expired')),
    ttl_seconds       BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    decision_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
    authorization_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    attestation       TEXT COLLATE "C" NOT NULL,
    created_at        BIGINT NOT NULL,
    revealed_at       BIGINT,
    resolved_at       BIGINT
);
CREATE INDEX intents_open ON intents (agent_id, card_id, expires_at) WHERE status IN ('awaiting_approval', 'pending', 'revealed');
CREATE TABLE authorizations (
    id                TEXT COLLATE "C" PRIMARY KEY,
    network_id        TEXT COLLATE "C" NOT NULL UNIQUE,
    card_id           TEXT COLLATE "C" REFERENCES cards (id),
    agent_id          TEXT COLLATE "C" REFERENCES agents (id),
    user_id           TEXT COLLATE "C" REFERENCES users (id),
    status            TEXT COLLATE "C" NOT NULL CHECK (status IN ('approved', 'declined', 'settled', 'reversed', 'expired')),
    decline_code      TEXT COLLATE "C" NOT NULL DEFAULT '',
    reason            TEXT COLLATE "C" NOT NULL,
    amount            BIGINT NOT NULL CHECK (amount > 0),
    currency          TEXT COLLATE "C" NOT NULL,
    merchant_name     TEXT COLLATE "C" NOT NULL,
    merchant_mcc      TEXT COLLATE "C" NOT NULL DEFAULT '',
    merchant_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
    merchant_country  TEXT COLLATE "C" NOT NULL DEFAULT '',
    intent_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
    decision_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
    risk_score        BIGINT NOT NULL,
    risk_signals      TEXT COLLATE "C" NOT NULL,
    risk_review       BOOLEAN NOT NULL,
    checks            TEXT COLLATE "C" NOT NULL,
    paper             BOOLEAN NOT NULL,
    settled_amount    BIGINT NOT NULL DEFAULT 0 CHECK (settled_amount BETWEEN 0 AND amount),
    refunded_amount   BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND settled_amount),
    hold_id           TEXT COLLATE "C" NOT NULL DEFAULT '',
    hold_expires_at   BIGINT,
    day               TEXT COLLATE "C" NOT NULL DEFAULT '',
    month             TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
, kind TEXT COLLATE "C" NOT NULL DEFAULT 'charge' CHECK (kind IN ('charge', 'credit')), network_answer TEXT COLLATE "C" NOT NULL DEFAULT '' CHECK (network_answer IN ('', 'approve', 'decline')));
CREATE INDEX authorizations_holds ON authorizations (hold_expires_at) WHERE status = 'approved';
CREATE TABLE decisions (
    id                       TEXT COLLATE "C" PRIMARY KEY,
    agent_id                 TEXT COLLATE "C" NOT NULL REFERENCES agents (id),
    kind                     TEXT COLLATE "C" NOT NULL CHECK (kind IN ('policy_check', 'intent_approval')),
    action_type              TEXT COLLATE "C" NOT NULL,
    amount                   BIGINT NOT NULL CHECK (amount > 0),
    currency                 TEXT COLLATE "C" NOT NULL,
    merchant                 TEXT COLLATE "C" NOT NULL DEFAULT '',
    mcc                      TEXT COLLATE "C" NOT NULL DEFAULT '',
    agent_reason             TEXT COLLATE "C" NOT NULL DEFAULT '',
    status                   TEXT COLLATE "C" NOT NULL CHECK (status IN ('approved', 'blocked', 'requires_approval', 'reduced')),
    reason                   TEXT COLLATE "C" NOT NULL,
    requires_human_approval  BOOLEAN NOT NULL,
    allowed_amount           BIGINT,
    policy_checks            TEXT COLLATE "C" NOT NULL,
    risk_score               BIGINT NOT NULL,
    dry_run                  BOOLEAN NOT NULL,
    paper                    BOOLEAN NOT NULL,
    approval_status          TEXT COLLATE "C" NOT NULL DEFAULT '' CHECK (approval_status IN ('', 'pending', 'approved', 'denied', 'expired', 'executed')),
    approval_expires_at      BIGINT,
    decided_by               TEXT COLLATE "C" NOT NULL DEFAULT '',
    decided_at               BIGINT,
    decision_note            TEXT COLLATE "C" NOT NULL DEFAULT '',
    executed_at              BIGINT,
    intent_id                TEXT COLLATE "C" NOT NULL DEFAULT '',
    authorization_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
    -- What the decision added to the agent's windows, and when.
    counted                  BIGINT NOT NULL DEFAULT 0,
    counted_at               BIGINT,
    day                      TEXT COLLATE "C" NOT NULL DEFAULT '',
    month                    TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL
);
CREATE INDEX decisions_agent ON decisions (agent_id, approval_status);
CREATE INDEX decisions_approvals ON decisions (approval_status, approval_expires_at) WHERE approval_status <> '';
CREATE INDEX decisions_counted ON decisions (agent_id, counted_at) WHERE counted > 0;
CREATE TABLE counters (
    scope   TEXT COLLATE "C" NOT NULL,
    period  TEXT COLLATE "C" NOT NULL,
    amount  BIGINT NOT NULL CHECK (amount >= 0),
    count   BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (scope, period)
);
CREATE TABLE merchants_seen (
    agent_id       TEXT COLLATE "C" NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL CHECK (kind IN ('merchant', 'mcc')),
    key            TEXT COLLATE "C" NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, kind, key)
);
CREATE TABLE accounts (
    id               TEXT COLLATE "C" PRIMARY KEY,
    kind             TEXT COLLATE "C" NOT NULL CHECK (kind IN ('user', 'paper', 'system')),
    owner_id         TEXT COLLATE "C" NOT NULL,
    currency         TEXT COLLATE "C" NOT NULL,
    debits_pending   BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted    BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending  BIGINT NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted   BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    -- The engine checks funds before it writes; this is the last line.
    CHECK (kind = 'system' OR credits_posted - debits_posted - debits_pending >= 0)
);
CREATE TABLE transfers (
    id                 TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    kind               TEXT COLLATE "C" NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
    debit_account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    credit_account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    amount             BIGINT NOT NULL CHECK (amount > 0),
    currency           TEXT COLLATE "C" NOT NULL,
    -- A post or void names the pending transfer it resolves.
    pending_id         TEXT COLLATE "C" REFERENCES transfers (id),
    reference          TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    CHECK (debit_account_id <> credit_account_id),
    CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL))
);
CREATE UNIQUE INDEX transfers_resolution ON transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE TABLE idempotency (
    scope         TEXT COLLATE "C" NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    operation     TEXT COLLATE "C" NOT NULL,
    request_hash  TEXT COLLATE "C" NOT NULL,
    response      BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE api_keys (
    id          TEXT COLLATE "C" PRIMARY KEY,
    role        TEXT COLLATE "C" NOT NULL CHECK (role IN ('admin', 'agent', 'viewer', 'network')),
    agent_id    TEXT COLLATE "C" REFERENCES agents (id),
    name        TEXT COLLATE "C" NOT NULL DEFAULT '',
    prefix      TEXT COLLATE "C" NOT NULL,
    hash        BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    CHECK ((role = 'agent') = (agent_id IS NOT NULL))
);
CREATE TABLE webhook_endpoints (
    id          TEXT COLLATE "C" PRIMARY KEY,
    url         TEXT COLLATE "C" NOT NULL,
    events      TEXT COLLATE "C" NOT NULL,  -- JSON array of event types; [] is every event
    secret      BYTEA NOT NULL,  -- AES-256-GCM sealed signing secret
    created_at  BIGINT NOT NULL,
    removed_at  BIGINT
);
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    type        TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    data        TEXT COLLATE "C" NOT NULL
);
CREATE TABLE deliveries (
    endpoint_id       TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id),
    event_seq         BIGINT NOT NULL REFERENCES events (seq),
    status            TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    last_status_code  BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT COLLATE "C" NOT NULL DEFAULT '',
    delivered_at      BIGINT,
    lease_owner       TEXT COLLATE "C" NOT NULL DEFAULT '',
    lease_until       BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, event_seq)
);
CREATE INDEX deliveries_pending ON deliveries (endpoint_id, event_seq) WHERE status = 'pending';
CREATE TABLE card_links (
    issuer       TEXT COLLATE "C" NOT NULL CHECK (issuer IN ('stripe', 'lithic')),
    external_id  TEXT COLLATE "C" NOT NULL,
    card_id      TEXT COLLATE "C" NOT NULL REFERENCES cards (id),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (issuer, external_id),
    UNIQUE (issuer, card_id)
);
CREATE TABLE issuer_fallbacks (
    id                TEXT COLLATE "C" PRIMARY KEY,
    issuer            TEXT COLLATE "C" NOT NULL,
    network_id        TEXT COLLATE "C" NOT NULL,
    answer            TEXT COLLATE "C" NOT NULL CHECK (answer IN ('approved', 'declined')),
    reason            TEXT COLLATE "C" NOT NULL,
    amount            BIGINT NOT NULL,
    currency          TEXT COLLATE "C" NOT NULL,
    merchant          TEXT COLLATE "C" NOT NULL DEFAULT '',
    authorization_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    outcome           TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL
);
CREATE INDEX issuer_fallbacks_network ON issuer_fallbacks (network_id);
CREATE TABLE settings (
    key         TEXT COLLATE "C" PRIMARY KEY,
    value       TEXT COLLATE "C" NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX authorizations_agent_page ON authorizations (agent_id, status, id);
CREATE INDEX authorizations_card_page ON authorizations (card_id, status, id);
CREATE INDEX intents_agent ON intents (agent_id, status, id);
CREATE INDEX intents_card ON intents (card_id, status, id);
CREATE INDEX decisions_queue ON decisions (approval_status, id) WHERE approval_status <> '';
CREATE INDEX decisions_agent_queue ON decisions (agent_id, approval_status, id) WHERE approval_status <> '';
CREATE INDEX cards_agent ON cards (agent_id, id);
CREATE INDEX agents_user ON agents (user_id, id);
CREATE INDEX deliveries_status ON deliveries (status, event_seq DESC, endpoint_id);
-- An event's deliveries: the foreign key's check when events are pruned, an
-- event's listing, every delivery newest first (PostgreSQL has no skip scan).
CREATE INDEX deliveries_event ON deliveries (event_seq DESC, endpoint_id);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX transfers_reference ON transfers (reference, id);
CREATE INDEX cards_issuer ON cards (issuer, id) WHERE issuer <> '';
CREATE TABLE issuer_cardholders (
    issuer       TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    external_id  TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (issuer, user_id)
);
CREATE TABLE issuer_sync (
    card_id       TEXT COLLATE "C" PRIMARY KEY,
    issuer        TEXT COLLATE "C" NOT NULL,
    external_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
    agent_id      TEXT COLLATE "C" NOT NULL DEFAULT '',
    version       TEXT COLLATE "C" NOT NULL,
    abandoned     TEXT COLLATE "C" NOT NULL DEFAULT '',  -- JSON of the spec of an abandoned card; '' for a card of ours
    -- 1 when the card's status changed here (not only its controls): only
    -- then is the status pushed, so that a change of controls never undoes
    -- a freeze made at the issuer.
    status_changed BOOLEAN NOT NULL DEFAULT false,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error    TEXT COLLATE "C" NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX issuer_sync_due ON issuer_sync (next_attempt_at);
CREATE TABLE oauth_clients (
    id             TEXT COLLATE "C" PRIMARY KEY,
    name           TEXT COLLATE "C" NOT NULL,
    redirect_uris  TEXT COLLATE "C" NOT NULL, -- a JSON array, matched exactly
    auth_method    TEXT COLLATE "C" NOT NULL CHECK (auth_method IN ('none', 'client_secret_post', 'client_secret_basic')),
    secret_hash    BYTEA,          -- confidential clients only
    registered_by  TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE TABLE oauth_grants (
    id              TEXT COLLATE "C" PRIMARY KEY,
    client_id       TEXT COLLATE "C" NOT NULL REFERENCES oauth_clients (id),
    agent_id        TEXT COLLATE "C" NOT NULL REFERENCES agents (id),
    read_only       BOOLEAN NOT NULL,
    resource        TEXT COLLATE "C" NOT NULL,
    scope           TEXT COLLATE "C" NOT NULL,
    redirect_uri    TEXT COLLATE "C" NOT NULL,
    code_challenge  TEXT COLLATE "C" NOT NULL,
    approved_by     TEXT COLLATE "C" NOT NULL,
    created_at      BIGINT NOT NULL,
    connected_at    BIGINT,
    revoked_at      BIGINT,
    revoked_reason  TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX oauth_grants_client ON oauth_grants (client_id, id);
CREATE TABLE oauth_tokens (
    hash        BYTEA PRIMARY KEY,
    kind        TEXT COLLATE "C" NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    grant_id    TEXT COLLATE "C" NOT NULL REFERENCES oauth_grants (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);
CREATE TABLE velocity_spends (
    scope    TEXT COLLATE "C" NOT NULL,
    at       BIGINT NOT NULL,  -- unix microseconds
    n        BIGINT NOT NULL CHECK (n > 0),
    removed  BIGINT NOT NULL DEFAULT 0 CHECK (removed BETWEEN 0 AND n),
    cum      BIGINT NOT NULL CHECK (cum >= n),
    PRIMARY KEY (scope, at)
);
CREATE TABLE velocity_removed (
    scope  TEXT COLLATE "C" NOT NULL,
    width  BIGINT NOT NULL,
    start  BIGINT NOT NULL,  -- unix microseconds, a multiple of width
    n      BIGINT NOT NULL CHECK (n > 0),
    PRIMARY KEY (scope, width, start)
);
CREATE TABLE velocity_fills (
    scope  TEXT COLLATE "C" PRIMARY KEY,
    since  BIGINT NOT NULL  -- unix microseconds
);

-- velocity_spends.cum is kept a running sum by the statement that records a
-- spend (startVelocity), not by triggers as in SQLite.

INSERT INTO settings (key, value, updated_at) VALUES ('timezone', 'UTC', 0);
