-- Events keep the checks of the authorization they report by reference
-- (version 9). An authorization's event is its whole object, checks
-- included: about 900 of its 1,750 bytes, the same bytes as the
-- authorization's own checks column, which never changes. When the event
-- is written in the transaction that inserts the authorization, those bytes
-- are left out of data and checks_of names the authorization; checks_at is
-- where, in characters, they go back. Reading an event puts them back
-- (eventData in webhooks.go), so what is sent and listed, and signed, is
-- byte for byte what was emitted. Events written before keep their data.
ALTER TABLE events ADD COLUMN checks_of TEXT;
ALTER TABLE events ADD COLUMN checks_at INTEGER;
