-- Transfers by reference (version 5): an authorization's transfers (its
-- hold, the post or void of the hold, its refunds) all carry its id as
-- their reference, and the dashboard shows them on the authorization's
-- page. The index costs each transfer's insert one more entry; without it
-- that page would scan the whole ledger.
CREATE INDEX transfers_reference ON transfers (reference, id);
