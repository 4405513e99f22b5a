-- Pages (version 4): every list pages by a keyset on its order (id, or an
-- event's seq), so each listing that filters has an index in that order,
-- and a page costs the same however long the history behind it.

-- An agent's or a card's authorizations, newest first, by status: a page of
-- one status reads only its own rows, and a page of every status merges one
-- keyset read per status (the statuses are a fixed few). They replace the
-- created_at indexes, which counted the spends of a window: ids begin with
-- their creation time, so a window is an id range of the approved and
-- settled rows, and an authorization's insert updates no more indexes than
-- before.
DROP INDEX authorizations_agent;
DROP INDEX authorizations_card;
CREATE INDEX authorizations_agent_page ON authorizations (agent_id, status, id);
CREATE INDEX authorizations_card_page ON authorizations (card_id, status, id);

-- An agent's or a card's intents, oldest first, by status as above.
DROP INDEX intents_agent;
CREATE INDEX intents_agent ON intents (agent_id, status, id);
CREATE INDEX intents_card ON intents (card_id, status, id);

-- The decisions that needed a human, of every agent or of one, by approval
-- status as above.
CREATE INDEX decisions_queue ON decisions (approval_status, id) WHERE approval_status <> '';
CREATE INDEX decisions_agent_queue ON decisions (agent_id, approval_status, id) WHERE approval_status <> '';

-- An agent's cards and a user's agents, in id order: a page reads its own
-- rows rather than sorting every match.
DROP INDEX cards_agent;
CREATE INDEX cards_agent ON cards (agent_id, id);
DROP INDEX agents_user;
CREATE INDEX agents_user ON agents (user_id, id);

-- Deliveries of one status, newest event first (of every status: merged
-- as above; of one event: one probe per status). It replaces the index of
-- deliveries by event, which an event's deliveries now read this way.
DROP INDEX deliveries_event;
CREATE INDEX deliveries_status ON deliveries (status, event_seq DESC, endpoint_id);

-- The events of one type, newest first.
CREATE INDEX events_type ON events (type, seq);
