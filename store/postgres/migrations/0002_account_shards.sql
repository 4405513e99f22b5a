-- The system accounts (deposits, settlement, paper) are on one side of
-- nearly every transfer. Charges of different users are decided at once
-- (locks.go), and one row updated by all of them would make each wait for
-- the one before it to commit. Their sums are therefore spread over shards:
-- a transaction adds its share to the shard of the user it locked (shard 0
-- for one that ran alone). An account's sums are its row's plus its
-- shards'. A single shard may go below zero (a hold placed in one, voided
-- from another); the sums are what the transfers add up to, as
-- `ledger verify` checks.
CREATE TABLE account_shards (
    account_id       TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
    shard            INTEGER NOT NULL,
    debits_pending   BIGINT NOT NULL DEFAULT 0,
    debits_posted    BIGINT NOT NULL DEFAULT 0,
    credits_pending  BIGINT NOT NULL DEFAULT 0,
    credits_posted   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, shard)
);
