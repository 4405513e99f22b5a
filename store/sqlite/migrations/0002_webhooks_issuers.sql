-- agentledger schema, version 2: webhooks (a durable outbox of events and
-- their deliveries), links from real issuers' cards, issuer fallbacks, and
-- the network key role.

-- api_keys gains the 'network' role: SQLite cannot alter a CHECK, so the
-- table is rebuilt.
CREATE TABLE api_keys_v2 (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'viewer', 'network')),
    agent_id    TEXT REFERENCES agents (id),
    name        TEXT NOT NULL DEFAULT '',
    prefix      TEXT NOT NULL,
    hash        BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    CHECK ((role = 'agent') = (agent_id IS NOT NULL))
) STRICT;
INSERT INTO api_keys_v2 SELECT id, role, agent_id, name, prefix, hash, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v2 RENAME TO api_keys;

CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,  -- JSON array of event types; [] is every event
    secret      BLOB NOT NULL,  -- AES-256-GCM sealed signing secret
    created_at  INTEGER NOT NULL,
    removed_at  INTEGER
) STRICT;

-- Events, written in the transaction of the change they report, just
-- before it commits. seq is therefore the commit order (one writer holds
-- the lock from BEGIN to COMMIT, across processes), the order each endpoint
-- receives them in. A rowid table, not WITHOUT ROWID: an event is a
-- kilobyte or two, more than an index b-tree keeps on its page, and every
-- authorization writes one, so it must not spill to overflow pages.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL
) STRICT;

-- One row per event and subscribed endpoint.
CREATE TABLE deliveries (
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event_seq         INTEGER NOT NULL REFERENCES events (seq),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER NOT NULL,
    last_status_code  INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    delivered_at      INTEGER,
    lease_owner       TEXT NOT NULL DEFAULT '',
    lease_until       INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, event_seq)
) STRICT, WITHOUT ROWID;
-- The head of each endpoint's queue is its oldest pending event.
CREATE INDEX deliveries_pending ON deliveries (endpoint_id, event_seq) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_seq);

-- A real issuer's card (Stripe ic_…, a Lithic card token) tied to one of ours.
CREATE TABLE card_links (
    issuer       TEXT NOT NULL CHECK (issuer IN ('stripe', 'lithic')),
    external_id  TEXT NOT NULL,
    card_id      TEXT NOT NULL REFERENCES cards (id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (issuer, external_id),
    UNIQUE (issuer, card_id)
) STRICT, WITHOUT ROWID;

-- Answers an issuer endpoint gave without the engine's decision (the
-- decision budget ran out, or the database could not be reached).
CREATE TABLE issuer_fallbacks (
    id                TEXT PRIMARY KEY,
    issuer            TEXT NOT NULL,
    network_id        TEXT NOT NULL,
    answer            TEXT NOT NULL CHECK (answer IN ('approved', 'declined')),
    reason            TEXT NOT NULL,
    amount            INTEGER NOT NULL,
    currency          TEXT NOT NULL,
    merchant          TEXT NOT NULL DEFAULT '',
    authorization_id  TEXT NOT NULL DEFAULT '',
    outcome           TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX issuer_fallbacks_network ON issuer_fallbacks (network_id);
