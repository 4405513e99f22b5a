package engine

import (
	"context"
	"time"
)

// Store persists the engine's objects. All access goes through transactions:
// Update for anything that writes, View for consistent reads.
//
// Errors: methods of Store and Tx return *Error values with CodeNotFound for
// a missing object and CodeConflict for a violated uniqueness rule, as stated
// per method; any other error is an internal failure (I/O, corruption) and
// aborts the transaction.
type Store interface {
	// Update runs fn in a single write transaction (BEGIN IMMEDIATE) and
	// commits it durably before returning. If fn returns an error nothing fn
	// wrote is kept and Update returns that error. Once fn has been handed to
	// the store, cancelling ctx does not abandon it: the transaction runs to
	// its end, so money is never half-moved by a disconnecting client. If the
	// database stays locked by another process past the busy timeout, Update
	// returns a CodeBusy error and nothing is written. If the commit itself
	// fails (a full disk, an I/O error), Update returns a CodeUnavailable
	// error — whatever fn returned, since fn may have decided on writes that
	// never happened — and nothing is written. A store on a server (the
	// PostgreSQL store) whose connection breaks during the commit cannot
	// know whether it was written: it returns a CodeInternal error saying
	// so instead.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// UpdateCharge is Update for a charge on the card ref names (no card
	// when it names none): fn may change only the objects of that card's
	// user, and rows that others only insert or that are unique by key
	// (authorizations, events, idempotency records), each of which may then
	// meet a concurrent insert (CodeConflict). A store whose writers take
	// turns anyway (SQLite) runs it as Update. A store that runs writers at
	// once (PostgreSQL) orders it only with the charges of the same user and
	// with every Update, which still runs alone. Either way the store holds
	// what it needs before fn starts, so fn's clock and reads come after any
	// wait. Errors are Update's.
	UpdateCharge(ctx context.Context, ref CardRef, fn func(tx Tx) error) error

	// View runs fn in a read-only snapshot of the committed state. Write
	// methods of the Tx fail inside View.
	View(ctx context.Context, fn func(tx Tx) error) error

	// VerifyLedger checks the ledger's invariants (DESIGN §6) and reports
	// every fault it finds. It returns an error only when it cannot read.
	VerifyLedger(ctx context.Context) (*LedgerReport, error)
}

// CardRef names a card the way a charge does: by its full PAN, else by an
// issuer's card id (Issuer and IssuerCardID), else by id.
type CardRef struct {
	ID, PAN, Issuer, IssuerCardID string
}

// Tx is one transaction. Find methods return a CodeNotFound error when the
// object does not exist; List methods return an empty slice, never an error,
// when nothing matches. Objects are returned as fresh copies the caller may
// modify.
type Tx interface {
	// InsertUser stores a new user; CodeConflict when the name is taken.
	InsertUser(u *User) error
	// UpdateUser saves a user's KYC status and timestamps.
	UpdateUser(u *User) error
	// FindUser finds a user by id or unique name.
	FindUser(ref string) (*User, error)
	// ListUsers returns users, oldest first.
	ListUsers(f UserFilter) ([]*User, error)

	// InsertAgent stores a new agent; CodeConflict when the name is taken.
	InsertAgent(a *Agent) error
	// UpdateAgent saves an agent's mode, policy and risk state.
	UpdateAgent(a *Agent) error
	// UpdateAgentRisk saves only an agent's risk state: every spend attempt
	// changes it, and nothing else of the agent.
	UpdateAgentRisk(agentID string, risk RiskState) error
	// FindAgent finds an agent by id or unique name.
	FindAgent(ref string) (*Agent, error)
	// ListAgents returns agents matching the filter, oldest first.
	ListAgents(f AgentFilter) ([]*Agent, error)

	// InsertCard stores a card and its secret, which the store encrypts.
	// CodeConflict when the PAN is already issued. A card provisioned at an
	// issuer (Issuer set) has an empty secret: its number stays there.
	InsertCard(c *Card, secret CardSecret) error
	// UpdateCard saves a card's status and limits.
	UpdateCard(c *Card) error
	// FindCard finds a card by id.
	FindCard(id string) (*Card, error)
	// FindCardByPAN finds a card by its full PAN.
	FindCardByPAN(pan string) (*Card, error)
	// CardSecret decrypts and returns a card's PAN and CVV.
	CardSecret(id string) (CardSecret, error)
	// ListCards returns cards matching the filter, oldest first.
	ListCards(f CardFilter) ([]*Card, error)

	// InsertIntent stores a new intent.
	InsertIntent(i *Intent) error
	// UpdateIntent saves an intent's status, card, expiry and outcome.
	UpdateIntent(i *Intent) error
	// FindIntent finds an intent by id.
	FindIntent(id string) (*Intent, error)
	// ListIntents returns intents matching the filter, oldest first, or in
	// order of expiry when the filter bounds the expiry.
	ListIntents(f IntentFilter) ([]*Intent, error)

	// InsertAuthorization stores a new authorization. CodeConflict when an
	// authorization with the same network id exists; nothing is written then.
	InsertAuthorization(a *Authorization) error
	// UpdateAuthorization saves an authorization's status and amounts.
	UpdateAuthorization(a *Authorization) error
	// FindAuthorization finds an authorization by id.
	FindAuthorization(id string) (*Authorization, error)
	// FindAuthorizationByNetworkID finds an authorization by the network's id.
	FindAuthorizationByNetworkID(networkID string) (*Authorization, error)
	// ListAuthorizations returns authorizations matching the filter, newest
	// first.
	ListAuthorizations(f AuthorizationFilter) ([]*Authorization, error)

	// InsertDecision stores a new decision.
	InsertDecision(d *Decision) error
	// UpdateDecision saves a decision's approval state and counted amount.
	UpdateDecision(d *Decision) error
	// FindDecision finds a decision by id.
	FindDecision(id string) (*Decision, error)
	// ListDecisions returns decisions matching the filter, oldest first.
	ListDecisions(f DecisionFilter) ([]*Decision, error)

	// InsertKey stores a new API key (its hash, never the secret).
	InsertKey(k *APIKey) error
	// UpdateKey saves a key's revocation.
	UpdateKey(k *APIKey) error
	// FindKey finds a key by id.
	FindKey(id string) (*APIKey, error)
	// FindKeyByHash finds a key by the SHA-256 of its secret.
	FindKeyByHash(hash []byte) (*APIKey, error)
	// ListKeys returns keys, oldest first.
	ListKeys(f KeyFilter) ([]*APIKey, error)

	// InsertOAuthClient stores a registered OAuth client.
	InsertOAuthClient(c *OAuthClient) error
	// UpdateOAuthClient saves a client's revocation.
	UpdateOAuthClient(c *OAuthClient) error
	// FindOAuthClient finds a client by id.
	FindOAuthClient(id string) (*OAuthClient, error)
	// ListOAuthClients returns clients, oldest first.
	ListOAuthClients(f OAuthClientFilter) ([]*OAuthClient, error)
	// InsertOAuthGrant stores an operator's consent.
	InsertOAuthGrant(g *OAuthGrant) error
	// UpdateOAuthGrant saves a grant's connection and revocation.
	UpdateOAuthGrant(g *OAuthGrant) error
	// FindOAuthGrant finds a grant by id.
	FindOAuthGrant(id string) (*OAuthGrant, error)
	// ListOAuthGrants returns grants (of a client, when ClientID is set),
	// oldest first.
	ListOAuthGrants(f OAuthGrantFilter) ([]*OAuthGrant, error)
	// InsertOAuthToken stores an issued code or token by its hash.
	InsertOAuthToken(t *OAuthToken) error
	// FindOAuthToken finds a code or token by the SHA-256 of its secret.
	FindOAuthToken(hash []byte) (*OAuthToken, error)
	// MarkOAuthTokenUsed records that a code or refresh token was spent;
	// CodeNotFound when no token has the hash.
	MarkOAuthTokenUsed(hash []byte, at time.Time) error

	// Counters returns the spend counters of every scope in every period;
	// a counter never written reads as zero (it is absent from the map).
	Counters(scopes, periods []string) (map[CounterKey]Counter, error)
	// AddCounters adds the deltas to their counters, creating them as needed.
	AddCounters(deltas []CounterDelta) error
	// AddVelocity records spends that start (Count > 0) or stop (Count < 0)
	// counting in a velocity scope, each at the time it started counting: a
	// spend stops at the time it was added with. A spend may be added at a
	// time before the scope's latest (another process's clock behind). Its
	// cost does not grow with the scope's history. A stop of a spend the
	// scope never started is an internal error, unless the scope was
	// filled (FillAgentVelocity) from after the spend.
	AddVelocity(deltas []VelocityDelta) error
	// FillAgentVelocity empties the agent's velocity scope
	// (AgentCountScope) and fills it with the agent's spends that started
	// counting at or after since and still count: its approved and settled
	// charges, at their creation, and its counted policy decisions, at
	// when they counted. Its cost grows with the spends since then, never with
	// older history; a policy change, not a decision, pays it.
	FillAgentVelocity(agentID string, since time.Time) error
	// ClearVelocity removes every spend of a velocity scope.
	ClearVelocity(scope string) error
	// CountVelocity counts the spends of a velocity scope that started
	// counting at or after since (later than now too) and have not stopped:
	// exact to the microsecond, at a cost that does not grow with the
	// scope's history, however many spends are in the window.
	CountVelocity(scope string, since time.Time) (int64, error)

	// MerchantSeen reports whether the agent has had an approved spend at
	// the merchant (by normalized key) and in the merchant category.
	MerchantSeen(agentID, merchantKey, mcc string) (merchantSeen, mccSeen bool, err error)
	// MarkMerchantSeen records an approved spend at the merchant and category;
	// empty keys are skipped.
	MarkMerchantSeen(agentID, merchantKey, mcc string, at time.Time) error

	// FindAccount finds a ledger account by id.
	FindAccount(id string) (*Account, error)
	// InsertTransfer records a transfer and applies it to both accounts'
	// balances, creating accounts as needed. A post or void must name a
	// pending transfer that is neither posted nor voided yet (CodeInvalidState
	// otherwise); a post may not exceed the pending amount. A transfer that
	// would take a user or paper account's available balance below zero
	// fails with CodeInsufficientFunds and writes nothing.
	InsertTransfer(t *Transfer) error
	// ListTransfers returns the transfers matching the filter, oldest
	// first, up to its limit: an empty slice, never an error, when none
	// match. It serves the few transfers of one object (an authorization's
	// hold, what posted or voided it, its refunds), never the ledger: a
	// filter with neither a reference nor a pending id is an internal
	// error.
	ListTransfers(f TransferFilter) ([]*Transfer, error)

	// FindIdempotency finds a stored idempotency record.
	FindIdempotency(scope, key string) (*IdempotencyRecord, error)
	// InsertIdempotency stores the first result of a keyed call. The store
	// encrypts the response at rest, since some responses carry secrets.
	InsertIdempotency(r *IdempotencyRecord) error

	// InsertEvent stores an event and queues a pending delivery of it, due
	// at once, to every endpoint not removed that is subscribed to its type.
	InsertEvent(ev *Event) error
	// FindEvent finds an event by id.
	FindEvent(id string) (*Event, error)
	// ListEvents returns events matching the filter, newest first.
	ListEvents(f EventFilter) ([]*Event, error)

	// InsertEndpoint stores a webhook endpoint and its signing secret, which
	// the store encrypts.
	InsertEndpoint(w *WebhookEndpoint, secret string) error
	// FindEndpoint finds a webhook endpoint, removed or not, by id.
	FindEndpoint(id string) (*WebhookEndpoint, error)
	// ListEndpoints returns endpoints, removed ones too, oldest first.
	ListEndpoints(f EndpointFilter) ([]*WebhookEndpoint, error)
	// RemoveEndpoint marks an endpoint removed and cancels its pending
	// deliveries.
	RemoveEndpoint(id string, at time.Time) error
	// PutDelivery stores a delivery as given, replacing any earlier delivery
	// of the same event to the same endpoint (a replay starts afresh).
	// CodeNotFound when the event or the endpoint does not exist;
	// CodeInvalidState when that delivery is leased (being sent) at
	// d.CreatedAt.
	PutDelivery(d *Delivery) error
	// ListDeliveries returns deliveries matching the filter, newest event
	// first, the deliveries of one event by endpoint id.
	ListDeliveries(f DeliveryFilter) ([]*Delivery, error)
	// ClaimDeliveries leases to owner, until the given time, the oldest
	// pending delivery of each endpoint that is due at now and not leased
	// to another owner, up to limit of them, and returns them with their
	// event, URL and decrypted secret. An endpoint whose oldest pending
	// delivery is not due or is leased gives nothing, so that each endpoint
	// receives its events in order.
	ClaimDeliveries(now time.Time, owner string, until time.Time, limit int) ([]*DeliveryJob, error)
	// NextClaimable returns the earliest time at which a pending delivery
	// may be claimed (its next attempt or the end of its lease, whichever
	// is later), or nil when nothing is pending. It may be earlier than
	// what ClaimDeliveries will hand out, never later.
	NextClaimable() (*time.Time, error)
	// FinishDelivery saves the outcome of an attempt by owner and releases
	// the lease. CodeNotFound, with nothing written, unless the delivery is
	// pending and still leased to owner (it was cancelled, replayed, or
	// taken over after the lease ran out).
	FinishDelivery(d *Delivery, owner string) error

	// PutCardLink ties an issuer's card to one of ours, replacing the
	// card's earlier link at that issuer. CodeConflict when the issuer's
	// card is already linked to another card.
	PutCardLink(l *CardLink) error
	// FindCardLink finds the link of an issuer's card.
	FindCardLink(issuer, externalID string) (*CardLink, error)
	// ListCardLinks returns the links of a card.
	ListCardLinks(cardID string) ([]*CardLink, error)

	// FindCardholder returns the issuer's cardholder of a user; CodeNotFound
	// when the issuer has none yet.
	FindCardholder(issuer, userID string) (*Cardholder, error)
	// PutCardholder records the issuer's cardholder of a user, keeping an
	// earlier one if there is one.
	PutCardholder(c *Cardholder) error

	// QueueIssuerSync adds an issuer card to the queue of cards whose state
	// must reach the issuer, or gives its entry a new version and makes it
	// due now (StatusChanged, once set, stays set until the entry is done).
	QueueIssuerSync(s *IssuerSync) error
	// FindIssuerSync returns a card's queue entry; CodeNotFound when none.
	FindIssuerSync(cardID string) (*IssuerSync, error)
	// ListIssuerSync returns queue entries, those due soonest first; with
	// DueBy set only those due by then.
	ListIssuerSync(f IssuerSyncFilter) ([]*IssuerSync, error)
	// RetryIssuerSync saves a failed attempt (attempts, next attempt, last
	// error) of the entry's version; CodeNotFound, with nothing written,
	// when the entry has since changed or gone.
	RetryIssuerSync(s *IssuerSync) error
	// DoneIssuerSync removes a card's entry if it still has version, and
	// reports whether it did.
	DoneIssuerSync(cardID, version string) (bool, error)

	// PruneDeliveries removes up to limit finished (not pending) deliveries
	// of events created before the time, and says how many.
	PruneDeliveries(before time.Time, limit int) (int64, error)
	// PruneEvents removes up to limit events created before the time that
	// have no delivery left, and says how many.
	PruneEvents(before time.Time, limit int) (int64, error)
	// PruneIdempotency removes up to limit idempotency records created
	// before the time, and says how many.
	PruneIdempotency(before time.Time, limit int) (int64, error)
	// PruneOAuthTokens removes up to limit OAuth codes and tokens that
	// expired before the time, and says how many.
	PruneOAuthTokens(before time.Time, limit int) (int64, error)
	// PruneOAuthClients removes up to limit dynamically registered clients,
	// created before the time, that no operator ever consented to, and says
	// how many.
	PruneOAuthClients(before time.Time, limit int) (int64, error)

	// Settings returns the organisation's settings; CodeNotFound only for a
	// database not migrated.
	Settings() (*Settings, error)
	// UpdateSettings saves the organisation's settings.
	UpdateSettings(s *Settings) error

	// InsertFallback records an answer an issuer endpoint gave without the
	// engine's decision.
	InsertFallback(f *Fallback) error
	// ListFallbacks returns fallbacks, newest first, up to limit (0: all).
	ListFallbacks(limit int) ([]*Fallback, error)

	// CountPendingApprovals counts the pending approval requests that have
	// not lapsed at now, over an index.
	CountPendingApprovals(now time.Time) (int64, error)
	// PendingDeliveries counts the pending webhook deliveries and returns
	// when the one of the oldest event was created (a replay keeps a
	// delivery's creation time); nil when none is pending.
	PendingDeliveries() (count int64, oldest *time.Time, err error)
	// CountIssuerSync counts the entries of the issuer queue.
	CountIssuerSync() (int64, error)
}

// Every filter of a list that pages has After, an exclusive cursor: the id
// of an object, which need not exist, after which the list resumes in its
// own order (id > After oldest first, id < After newest first); empty starts
// at the beginning. Limit bounds the objects returned; 0 returns them all.

// UserFilter selects users.
type UserFilter struct {
	After string
	Limit int
}

// KeyFilter selects API keys.
type KeyFilter struct {
	After string
	Limit int
}

// EndpointFilter selects webhook endpoints.
type EndpointFilter struct {
	After string
	Limit int
}

// EventFilter selects events. Empty fields do not filter. Events are in
// the order they were committed, which is the order of their ids but for
// the clock skew of separate processes; After names an event, and one that
// does not exist is placed by its id.
type EventFilter struct {
	Type  string
	After string
	Limit int
}

// DeliveryFilter selects deliveries. Empty fields do not filter. After is
// a delivery id (DeliveryID); its event places it as in EventFilter.
type DeliveryFilter struct {
	EndpointID string
	EventID    string
	Status     string
	After      string
	Limit      int
}

// AgentFilter selects agents.
type AgentFilter struct {
	UserID string
	After  string
	Limit  int
}

// CardFilter selects cards.
type CardFilter struct {
	AgentID string
	// IssuerOnly selects only cards provisioned at a real issuer.
	IssuerOnly bool
	After      string
	Limit      int
}

// IssuerSyncFilter selects issuer queue entries.
type IssuerSyncFilter struct {
	AgentID string
	DueBy   *time.Time
	Limit   int
}

// IntentFilter selects intents. Empty fields do not filter.
type IntentFilter struct {
	AgentID       string
	CardID        string
	Statuses      []string
	ExpiresBefore *time.Time // expires_at <= this
	ExpiresAfter  *time.Time // expires_at > this
	After         string     // only in id order, without the expiry bounds
	Limit         int
}

// AuthorizationFilter selects authorizations. Empty fields do not filter.
type AuthorizationFilter struct {
	AgentID  string
	CardID   string
	Statuses []string
	// DeclineCode keeps only declined authorizations with this code: the
	// declined rows of the agent's or card's (status, id) index, or of the
	// whole table, are read and filtered on it, so a page walks declines
	// of other codes to fill up.
	DeclineCode       string
	HoldExpiresBefore *time.Time
	After             string // only in id order, without HoldExpiresBefore
	Limit             int
}

// TransferFilter selects the transfers of one object: those carrying a
// reference (an authorization's id for its hold, the hold's post or void
// and its refunds), or the one that resolves a pending transfer. At least
// one of Reference and PendingID must be set; both must match when both
// are. Limit bounds the transfers returned; 0 returns them all.
type TransferFilter struct {
	Reference string
	PendingID string
	Limit     int
}

// DecisionFilter selects decisions. Empty fields do not filter.
type DecisionFilter struct {
	AgentID               string
	Kind                  string
	ApprovalStatuses      []string
	ApprovalExpiresBefore *time.Time
	ApprovalExpiresAfter  *time.Time // approval_expires_at > this
	// Newest lists newest first; only with live approval statuses
	// (pending, approved), which are few.
	Newest bool
	After  string
	Limit  int
}

// CounterKey names one spend counter: a scope (an agent in a currency, or a
// card) and a period (a day, a month, or the whole lifetime).
type CounterKey struct {
	Scope  string
	Period string
}

// Counter is the amount and number of spends counted under one key.
type Counter struct {
	Amount int64
	Count  int64
}

// CounterDelta changes one counter.
type CounterDelta struct {
	Key    CounterKey
	Amount int64
	Count  int64
}

// VelocityDelta starts (Count > 0) or stops (Count < 0) Count spends of a
// velocity scope (AgentCountScope, CardScope) that started counting at At.
type VelocityDelta struct {
	Scope string
	At    time.Time
	Count int64
}

// IdempotencyRecord is the first result of a call made with an idempotency key.
type IdempotencyRecord struct {
	Scope       string
	Key         string
	Operation   string
	RequestHash string
	Response    []byte
	CreatedAt   time.Time
}
