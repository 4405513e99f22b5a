-- expect: the ledger does not balance
INSERT INTO accounts (id, kind, owner_id, currency, credits_posted) VALUES ('system:gift:USD', 'system', 'gift', 'USD', 500);
