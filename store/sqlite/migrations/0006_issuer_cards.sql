-- Real issuer cards (version 6): cards provisioned at Stripe Issuing or
-- Lithic, the issuers' cardholders of each user, and a durable queue of
-- issuer cards whose state must still reach the issuer.

-- A provisioned card names its issuer and the issuer's card id. Its number
-- lives only at the issuer: secret holds nothing, and pan_fingerprint is a
-- fingerprint of "issuer:<issuer>:<id>", which no card number matches.
ALTER TABLE cards ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE cards ADD COLUMN issuer_card_id TEXT NOT NULL DEFAULT '';
CREATE INDEX cards_issuer ON cards (issuer, id) WHERE issuer <> '';

-- The issuer new cards of an agent are provisioned at ('' for sandbox cards).
ALTER TABLE agents ADD COLUMN default_issuer TEXT NOT NULL DEFAULT '';

-- Stripe needs a cardholder per user, created once.
CREATE TABLE issuer_cardholders (
    issuer       TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id),
    external_id  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (issuer, user_id)
) STRICT, WITHOUT ROWID;

-- One row per issuer card whose status or controls changed here and have
-- not yet been confirmed by the issuer, and per card abandoned half made
-- (created at the issuer, never recorded here: card_id names no card and
-- spec holds what was asked, so the card can be found again and
-- cancelled). version changes with every change, so a push that started
-- before a later change cannot mark that change done.
CREATE TABLE issuer_sync (
    card_id       TEXT PRIMARY KEY,
    issuer        TEXT NOT NULL,
    external_id   TEXT NOT NULL DEFAULT '',
    agent_id      TEXT NOT NULL DEFAULT '',
    version       TEXT NOT NULL,
    abandoned     TEXT NOT NULL DEFAULT '',  -- JSON of the spec of an abandoned card; '' for a card of ours
    -- 1 when the card's status changed here (not only its controls): only
    -- then is the status pushed, so that a change of controls never undoes
    -- a freeze made at the issuer.
    status_changed INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error    TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX issuer_sync_due ON issuer_sync (next_attempt_at);
