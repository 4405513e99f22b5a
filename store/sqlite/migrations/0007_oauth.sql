-- OAuth 2.1 (version 7): agentledger as the authorization server of its own
-- MCP endpoint. Clients register, an operator consents (a grant: which
-- agent the client acts as, read-only or not), and the grant's codes and
-- tokens are kept by the SHA-256 of their secrets, like API keys.

CREATE TABLE oauth_clients (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    redirect_uris  TEXT NOT NULL, -- a JSON array, matched exactly
    auth_method    TEXT NOT NULL CHECK (auth_method IN ('none', 'client_secret_post', 'client_secret_basic')),
    secret_hash    BLOB,          -- confidential clients only
    registered_by  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
) STRICT;

CREATE TABLE oauth_grants (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES oauth_clients (id),
    agent_id        TEXT NOT NULL REFERENCES agents (id),
    read_only       INTEGER NOT NULL CHECK (read_only IN (0, 1)),
    resource        TEXT NOT NULL,
    scope           TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    approved_by     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    connected_at    INTEGER,
    revoked_at      INTEGER,
    revoked_reason  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX oauth_grants_client ON oauth_grants (client_id, id);

-- Codes, access tokens and refresh tokens. A code or refresh token is spent
-- once (used_at); a token is valid while its grant is.
CREATE TABLE oauth_tokens (
    hash        BLOB PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('code', 'access', 'refresh')),
    grant_id    TEXT NOT NULL REFERENCES oauth_grants (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX oauth_tokens_expiry ON oauth_tokens (expires_at);
