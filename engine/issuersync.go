package engine

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"
)

// IssuerNone asks for a sandbox card where an agent's default issuer would
// otherwise provision a real one.
const IssuerNone = "none"

// How long agentledger waits on an issuer, and how it retries.
const (
	// followBudget bounds how long a change of many issuer cards (freezing
	// every card) waits on the issuers before answering; the rest is queued.
	followBudget   = 15 * time.Second
	followParallel = 8
	issuerRetryMin = 5 * time.Second
	issuerRetryMax = 10 * time.Minute
	// pushRounds bounds how often one push repeats because the card changed
	// here while it was on its way to the issuer.
	pushRounds = 3
)

// Issuer sync states of a change's answer (Card.IssuerSync).
const (
	IssuerSynced = "synced"
	issuerQueued = "pending: "
)

// Cardholder is an issuer's cardholder of a user (Stripe ich_…).
type Cardholder struct {
	Issuer     string    `json:"issuer"`
	UserID     string    `json:"user_id"`
	ExternalID string    `json:"external_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// IssuerSync is an entry of the issuer queue: an issuer card whose status or
// controls changed here and have not reached the issuer yet, or a card
// abandoned half made at an issuer, still to be cancelled there.
type IssuerSync struct {
	CardID     string `json:"card_id"`
	Issuer     string `json:"issuer"`
	ExternalID string `json:"issuer_card_id,omitempty"`
	AgentID    string `json:"agent_id,omitempty"`
	// Version changes with every change, so that a push started before it
	// cannot mark it done.
	Version string `json:"-"`
	// Kind is IssuerSyncChange or IssuerSyncAbandoned.
	Kind string `json:"kind"`
	// StatusChanged says the card's status changed here (not only its
	// controls): only then is the status pushed, so that a change of
	// controls never undoes a freeze made at the issuer.
	StatusChanged bool `json:"status_changed"`
	// Abandoned is the JSON of the spec an abandoned card was created with;
	// empty for a card of ours.
	Abandoned     string    `json:"-"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Kinds of issuer queue entries.
const (
	// IssuerSyncChange: a change here still to reach the issuer.
	IssuerSyncChange = "change"
	// IssuerSyncAbandoned: a half-made card still to cancel at the issuer.
	IssuerSyncAbandoned = "cancel_abandoned"
)

// IsAbandoned reports whether the entry is a card to cancel at the issuer
// rather than one of ours to bring up to date.
func (q *IssuerSync) IsAbandoned() bool { return q.Abandoned != "" }

// issuerAPI returns the configured API of an issuer.
func (e *Engine) issuerAPI(name string) (CardIssuer, error) {
	if iss := e.issuers[name]; iss != nil {
		return iss, nil
	}
	return nil, Errorf(CodeIssuerUnavailable, "%s's API is not configured in this process (%s)", name, issuerKeyVar(name))
}

// callIssuer makes one call to the named issuer's API within the issuer
// timeout and returns its error as agentledger's (issuerFailure, with what
// says of the request here).
func (e *Engine) callIssuer(ctx context.Context, name, what string, call func(context.Context, CardIssuer) error) error {
	iss, err := e.issuerAPI(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.issuerWait)
	defer cancel()
	return issuerFailure(call(ctx, iss), what)
}

// issuerKeyVar names the environment variable of an issuer's API key, for
// messages.
func issuerKeyVar(name string) string {
	if name == IssuerLithic {
		return "AGENTLEDGER_LITHIC_API_KEY"
	}
	return "AGENTLEDGER_STRIPE_API_KEY"
}

// issuerFailure turns an issuer's error into agentledger's: ISSUER_UNAVAILABLE
// when a retry may cure it, ISSUER_REFUSED when the issuer said no. what
// says what became of the request here.
func issuerFailure(err error, what string) error {
	var ie *IssuerError
	if !errors.As(err, &ie) {
		return err
	}
	code := CodeIssuerRefused
	if ie.Unreached() {
		code = CodeIssuerUnavailable
	}
	msg := ie.Error()
	if what != "" {
		msg += "; " + what
	}
	return &Error{Code: code, Message: msg}
}

// issuerSpecFor is what the issuer's copy of card should be.
func issuerSpecFor(tx Tx, card *Card) (IssuerCardSpec, error) {
	agent, err := tx.FindAgent(card.AgentID)
	if err != nil {
		return IssuerCardSpec{}, err
	}
	user, err := tx.FindUser(agent.UserID)
	if err != nil {
		return IssuerCardSpec{}, err
	}
	holder := ""
	if h, err := tx.FindCardholder(card.Issuer, user.ID); err == nil {
		holder = h.ExternalID
	} else if !IsNotFound(err) {
		return IssuerCardSpec{}, err
	}
	return issuerSpec(card, agent.Policy.Effective(), user, holder), nil
}

func issuerSpec(card *Card, policy Policy, user *User, holder string) IssuerCardSpec {
	return IssuerCardSpec{
		CardID: card.ID, Type: card.Type, Currency: card.Currency, Status: card.Status,
		Controls:   mirrorControls(card.Limits, policy.SpendLimits),
		Cardholder: IssuerCardholder{UserID: user.ID, Name: user.Name, Email: user.Email, ExternalID: holder},
	}
}

// mirrorControls are the controls an issuer card should hold: the tighter of
// the card's and its policy's, as agentledger enforces them. A card's lists
// and amounts may only be tighter than its policy's, but the policy may have
// tightened since the card was made.
func mirrorControls(card, policy SpendLimits) IssuerControls {
	tighter := func(a, b *int64) int64 {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return *b
		case b == nil:
			return *a
		}
		return min(*a, *b)
	}
	c := IssuerControls{
		PerTransaction: tighter(card.PerTransactionLimit, policy.PerTransactionLimit),
		Daily:          tighter(card.DailyLimit, policy.DailyLimit),
		Monthly:        tighter(card.MonthlyLimit, policy.MonthlyLimit),
		Lifetime:       tighter(card.LifetimeLimit, policy.LifetimeLimit),
	}
	blocked := append(slices.Clone(card.BlockedMCCs), policy.BlockedMCCs...)
	slices.Sort(blocked)
	c.BlockedMCCs = slices.Compact(blocked)
	switch {
	case len(card.AllowedMCCs) == 0:
		c.AllowedMCCs = slices.Clone(policy.AllowedMCCs)
	case len(policy.AllowedMCCs) == 0:
		c.AllowedMCCs = slices.Clone(card.AllowedMCCs)
	default:
		// Both allow lists apply: only codes in both can be spent at. An
		// empty intersection would read as "no list" at the issuer, so the
		// card's own list stands in (agentledger still refuses the rest).
		for _, m := range card.AllowedMCCs {
			if slices.Contains(policy.AllowedMCCs, m) {
				c.AllowedMCCs = append(c.AllowedMCCs, m)
			}
		}
		if len(c.AllowedMCCs) == 0 {
			c.AllowedMCCs = slices.Clone(card.AllowedMCCs)
		}
	}
	slices.Sort(c.AllowedMCCs)
	c.AllowedMCCs = slices.Compact(c.AllowedMCCs)
	if len(c.BlockedMCCs) == 0 {
		c.BlockedMCCs = nil
	}
	if len(c.AllowedMCCs) == 0 {
		c.AllowedMCCs = nil
	}
	return c
}

// queueIssuerCard records, in the transaction of a change to an issuer
// card's status (statusChanged) or controls, that the issuer must be told.
func (e *Engine) queueIssuerCard(tx Tx, c *Card, now time.Time, statusChanged bool) error {
	if c.Issuer == "" {
		return nil
	}
	return tx.QueueIssuerSync(&IssuerSync{
		CardID: c.ID, Issuer: c.Issuer, ExternalID: c.IssuerCardID, AgentID: c.AgentID, StatusChanged: statusChanged,
		Version: e.newID("isv", now), NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	})
}

// queueAgentIssuerCards queues every open issuer card of an agent, whose
// mirrored controls follow its policy.
func (e *Engine) queueAgentIssuerCards(tx Tx, agentID string, now time.Time) error {
	cards, err := tx.ListCards(CardFilter{AgentID: agentID, IssuerOnly: true})
	if err != nil {
		return err
	}
	for _, c := range cards {
		if c.Status == CardClosed {
			continue
		}
		if err := e.queueIssuerCard(tx, c, now, false); err != nil {
			return err
		}
	}
	return nil
}

// followIssuers tells the issuers of the changed cards what changed, at
// most followParallel at a time and within followBudget, and says on each
// card how it went. What does not reach its issuer stays queued: the
// change here has already happened.
func (e *Engine) followIssuers(ctx context.Context, cards []*Card) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), followBudget)
	defer cancel()
	sem := make(chan struct{}, followParallel)
	var wg sync.WaitGroup
	for _, c := range cards {
		if c.Issuer == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				c.IssuerSync = issuerQueued + "queued; it will be retried"
				return
			}
			defer func() { <-sem }()
			if err := e.pushIssuerCard(ctx, c.ID); err != nil {
				c.IssuerSync = issuerQueued + ErrorMessage(err) + "; the change is queued and will be retried"
			} else {
				c.IssuerSync = IssuerSynced
			}
		}()
	}
	wg.Wait()
}

// followAgentIssuerCards follows an agent's queued issuer cards, after a
// policy change.
func (e *Engine) followAgentIssuerCards(ctx context.Context, agentID string) {
	var cards []*Card
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		queued, err := tx.ListIssuerSync(IssuerSyncFilter{AgentID: agentID})
		if err != nil {
			return err
		}
		for _, q := range queued {
			if q.IsAbandoned() {
				continue
			}
			c, err := tx.FindCard(q.CardID)
			if err != nil {
				return err
			}
			cards = append(cards, c)
		}
		return nil
	})
	if err == nil {
		e.followIssuers(ctx, cards)
	}
}

// lockCard takes this process's lock on pushing a card, or fails when ctx
// ends first: a caller waiting on a hung issuer must not wait on it twice.
func (e *Engine) lockCard(ctx context.Context, cardID string) (unlock func(), err error) {
	v, _ := e.syncLocks.LoadOrStore(cardID, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, Errorf(CodeIssuerUnavailable, "another push of card %s to its issuer is under way", cardID)
	}
}

// pushIssuerCard brings the issuer's copy of a queued card up to date, and
// takes it off the queue unless it changed again meanwhile. A card without
// a queue entry is up to date already.
//
// Pushes of one card are serialised within a process, not across processes
// (a CLI command and a server may push the same card). So when the entry
// has changed by the time a push lands, that push may have landed after a
// newer one and overwritten it: the card's present state is pushed once
// more, whether or not the entry is still there.
func (e *Engine) pushIssuerCard(ctx context.Context, cardID string) error {
	unlock, err := e.lockCard(ctx, cardID)
	if err != nil {
		return err
	}
	defer unlock()
	repush, repushStatus := false, false
	for range pushRounds {
		var q *IssuerSync
		var card *Card
		var spec IssuerCardSpec
		err := e.view(ctx, func(tx Tx, _ time.Time) error {
			var err error
			q, err = tx.FindIssuerSync(cardID)
			switch {
			case IsNotFound(err) && !repush:
				return err
			case IsNotFound(err):
				q = nil
			case err != nil:
				return err
			case q.IsAbandoned():
				return nil
			}
			if card, err = tx.FindCard(cardID); err != nil {
				return err
			}
			spec, err = issuerSpecFor(tx, card)
			return err
		})
		switch {
		case IsNotFound(err):
			return nil
		case err != nil:
			return err
		case q != nil && q.IsAbandoned():
			return e.cancelAbandoned(ctx, q)
		}
		withStatus := repushStatus || (q != nil && q.StatusChanged)
		if !withStatus {
			spec.Status = "" // controls only: keep what the issuer has
		}
		err = e.callIssuer(ctx, card.Issuer, "", func(ctx context.Context, iss CardIssuer) error {
			_, err := iss.UpdateCard(ctx, card.IssuerCardID, spec)
			return err
		})
		if err != nil {
			if q == nil {
				// The repeat of an overwritten push failed: queue it again.
				_ = e.update(context.WithoutCancel(ctx), func(tx Tx, now time.Time) error {
					return e.queueIssuerCard(tx, card, now, withStatus)
				})
				return err
			}
			e.retryIssuerLater(ctx, q, err)
			return err
		}
		if q == nil {
			return nil
		}
		var done bool
		if err := e.update(ctx, func(tx Tx, _ time.Time) error {
			var err error
			done, err = tx.DoneIssuerSync(cardID, q.Version)
			return err
		}); err != nil {
			return err
		}
		if done {
			return nil
		}
		repush, repushStatus = true, withStatus
	}
	return nil // it changed again each time; the queue has the rest
}

// retryIssuerLater saves a failed attempt on a queue entry, with the next
// attempt backed off.
func (e *Engine) retryIssuerLater(ctx context.Context, q *IssuerSync, cause error) {
	_ = e.update(context.WithoutCancel(ctx), func(tx Tx, now time.Time) error {
		q.Attempts++
		q.NextAttemptAt = now.Add(issuerBackoff(q.Attempts))
		q.LastError = ErrorMessage(cause)
		q.UpdatedAt = now
		err := tx.RetryIssuerSync(q)
		if IsNotFound(err) {
			return nil // changed since: the newer version has its own attempt
		}
		return err
	})
}

func issuerBackoff(attempts int) time.Duration {
	d := issuerRetryMin
	for i := 1; i < attempts && d < issuerRetryMax; i++ {
		d *= 2
	}
	return min(d, issuerRetryMax)
}

// abandonIssuerCard cancels, at the issuer, a card agentledger asked for and
// will not record (the issuer's answer was lost or unusable, or recording
// it failed): no half-made card may stay usable there. externalID is empty
// when the issuer's answer was lost; the create is then repeated (it is
// idempotent) to learn the card. The card is queued first, so that a
// cancellation that fails now, or a process that dies, leaves it in the
// queue. It returns an error only when the card could be neither queued nor
// cancelled: then it may be left usable at the issuer.
func (e *Engine) abandonIssuerCard(ctx context.Context, iss CardIssuer, spec IssuerCardSpec, externalID string) error {
	ctx = context.WithoutCancel(ctx)
	raw, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	q := &IssuerSync{CardID: spec.CardID, Issuer: iss.Name(), ExternalID: externalID, Abandoned: string(raw)}
	queueErr := e.update(ctx, func(tx Tx, now time.Time) error {
		q.Version, q.NextAttemptAt, q.CreatedAt, q.UpdatedAt = e.newID("isv", now), now.Add(issuerRetryMin), now, now
		return tx.QueueIssuerSync(q)
	})
	callCtx, cancel := context.WithTimeout(ctx, e.issuerWait)
	err = cancelAbandonedAt(callCtx, iss, q)
	cancel()
	switch {
	case queueErr != nil && err != nil:
		return Errorf(CodeIssuerUnavailable, "a %s card for %s may have been made and could not be cancelled: "+
			"cancel any %s card with agentledger_card_id %s (%s)", iss.Name(), spec.CardID, iss.Name(), spec.CardID,
			ErrorMessage(err))
	case queueErr != nil:
		return nil
	case err != nil:
		e.retryIssuerLater(ctx, q, err)
		return nil
	}
	return e.update(ctx, func(tx Tx, _ time.Time) error {
		_, err := tx.DoneIssuerSync(q.CardID, q.Version)
		return err
	})
}

// cancelAbandoned retries cancelling a queued abandoned card.
func (e *Engine) cancelAbandoned(ctx context.Context, q *IssuerSync) error {
	err := e.callIssuer(ctx, q.Issuer, "", func(ctx context.Context, iss CardIssuer) error {
		return cancelAbandonedAt(ctx, iss, q)
	})
	if err != nil {
		e.retryIssuerLater(ctx, q, err)
		return err
	}
	return e.update(ctx, func(tx Tx, _ time.Time) error {
		_, err := tx.DoneIssuerSync(q.CardID, q.Version)
		return err
	})
}

// cancelAbandonedAt cancels an abandoned card at its issuer, first
// repeating its create to learn it when its id is unknown.
func cancelAbandonedAt(ctx context.Context, iss CardIssuer, q *IssuerSync) error {
	var spec IssuerCardSpec
	if err := json.Unmarshal([]byte(q.Abandoned), &spec); err != nil {
		return err
	}
	if q.ExternalID == "" {
		issued, err := iss.CreateCard(ctx, spec)
		var ie *IssuerError
		if errors.As(err, &ie) && ie.ProvesNothingDone() {
			return nil // the issuer refuses the create for its content: it made no card
		} else if err != nil {
			return issuerFailure(err, "")
		}
		q.ExternalID = issued.ExternalID
	}
	spec.Status = CardClosed
	_, err := iss.UpdateCard(ctx, q.ExternalID, spec)
	return issuerFailure(err, "")
}

// SyncIssuerQueue makes one pass over the issuer queue's due entries: it
// pushes each card's state to its issuer and cancels abandoned cards, and
// returns how many entries it tried and how many are left queued. serve
// runs it in the background.
func (e *Engine) SyncIssuerQueue(ctx context.Context) (tried, left int, err error) {
	return e.workIssuerQueue(ctx, true)
}

// workIssuerQueue tries the queue's entries once each: those due now, or
// all of them.
func (e *Engine) workIssuerQueue(ctx context.Context, dueOnly bool) (tried, left int, err error) {
	var entries []*IssuerSync
	if err := e.view(ctx, func(tx Tx, now time.Time) error {
		f := IssuerSyncFilter{Limit: MaxPageLimit}
		if dueOnly {
			f.DueBy = &now
		}
		var err error
		entries, err = tx.ListIssuerSync(f)
		return err
	}); err != nil {
		return 0, 0, err
	}
	for _, q := range entries {
		if ctx.Err() != nil {
			break
		}
		tried++
		if q.IsAbandoned() {
			err = e.cancelAbandoned(ctx, q)
		} else {
			err = e.pushIssuerCard(ctx, q.CardID)
		}
		if err != nil {
			left++
		}
	}
	return tried, left, nil
}
