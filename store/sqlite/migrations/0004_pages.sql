-- Pages (version 4): every list pages by a keyset on its order (id, or an
-- event's seq), so each listing that filters has an index in that order,
-- and a page costs the same however long the history behind it.

-- An agent's or a card's authorizations, newest first. The created_at
-- indexes stay: they count the spends of a window.
CREATE INDEX authorizations_agent_page ON authorizations (agent_id, id);
CREATE INDEX authorizations_card_page ON authorizations (card_id, id);

-- An agent's or a card's intents, oldest first.
DROP INDEX intents_agent;
CREATE INDEX intents_agent ON intents (agent_id, id);
CREATE INDEX intents_card ON intents (card_id, id);

-- The decisions that needed a human, of every agent or of one.
CREATE INDEX decisions_queue ON decisions (id) WHERE approval_status <> '';
CREATE INDEX decisions_agent_queue ON decisions (agent_id, id) WHERE approval_status <> '';

-- The events of one type, newest first.
CREATE INDEX events_type ON events (type, seq);
