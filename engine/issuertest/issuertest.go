// Package issuertest is an in-memory card issuer for tests of the engine's
// provisioning, state following and reveals: it keeps cards, records every
// call in order, and fails calls on demand.
package issuertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/agentledger/agentledger/engine"
)

// Call is one call the issuer received.
type Call struct {
	Method string // CreateCard, UpdateCard, GetCard, Credentials
	CardID string // agentledger's card id (CreateCard, UpdateCard), when known
	Ext    string // the issuer's card id
	Status string // the status asked for (CreateCard, UpdateCard)
}

func (c Call) String() string { return c.Method + " " + c.Ext + " " + c.Status }

// Fault is how a failing call fails.
type Fault int

// Faults.
const (
	// Unreached fails before the issuer acts: no answer (Status 0).
	Unreached Fault = iota + 1
	// LostAnswer acts, then fails as if the answer were lost (Status 0).
	LostAnswer
	// ServerError answers 500 without acting.
	ServerError
	// Refused answers 400 without acting.
	Refused
	// InUse answers 409 without acting, as Stripe answers a request whose
	// idempotency key is still in use by a request under way.
	InUse
	// Hang answers nothing until the caller gives up (Status 0).
	Hang
	// Garbled acts, then answers 200 with a body that cannot be used.
	Garbled
)

// Issuer is a fake issuer. The zero value is not usable: use New.
type Issuer struct {
	name string

	mu      sync.Mutex
	cards   map[string]*engine.IssuedCard // by external id
	byCard  map[string]string             // agentledger card id → external id (idempotency)
	holders map[string]string             // user id → cardholder id
	calls   []Call
	faults  map[string][]Fault // method → faults for its next calls
	next    int
	// MirrorsMCCs says whether the issuer holds MCC lists (Stripe does,
	// Lithic does not).
	MirrorsMCCs bool
	// OnCreate, when set, runs during each CreateCard, before it answers,
	// without the issuer's lock: a test changes things here meanwhile.
	OnCreate func()
	// OnUpdate, when set, runs at the start of each UpdateCard, without the
	// issuer's lock: a test holds a push here.
	OnUpdate func(spec engine.IssuerCardSpec)
}

// New returns an empty issuer of the name.
func New(name string) *Issuer {
	return &Issuer{name: name, cards: map[string]*engine.IssuedCard{}, byCard: map[string]string{},
		holders: map[string]string{}, faults: map[string][]Fault{}, MirrorsMCCs: true}
}

// Fail makes the next calls of method fail, one fault each.
func (f *Issuer) Fail(method string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method] = append(f.faults[method], faults...)
}

// Calls returns the calls received so far.
func (f *Issuer) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Methods returns the method names of the calls received so far.
func (f *Issuer) Methods() string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.Method)
	}
	return strings.Join(out, " ")
}

// Card returns the issuer's copy of a card.
func (f *Issuer) Card(ext string) (engine.IssuedCard, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cards[ext]
	if !ok {
		return engine.IssuedCard{}, false
	}
	return *c, true
}

// Cards returns how many cards the issuer holds.
func (f *Issuer) Cards() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cards)
}

// Cardholders returns how many cardholders the issuer holds.
func (f *Issuer) Cardholders() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.holders)
}

// SetStatus changes a card at the issuer alone, as its dashboard would.
func (f *Issuer) SetStatus(ext, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cards[ext].Status = status
}

// Name implements engine.CardIssuer.
func (f *Issuer) Name() string { return f.name }

// fault takes the next fault of method, if any: its error and whether the
// call is to act anyway.
func (f *Issuer) fault(ctx context.Context, method string) (error, bool) {
	q := f.faults[method]
	if len(q) == 0 {
		return nil, true
	}
	f.faults[method] = q[1:]
	switch q[0] {
	case Hang:
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return &engine.IssuerError{Issuer: f.name, Message: "timeout awaiting response headers"}, false
	case InUse:
		return &engine.IssuerError{Issuer: f.name, Status: 409, Code: "idempotency_key_in_use", Message: "in use"}, false
	case Unreached:
		return &engine.IssuerError{Issuer: f.name, Message: "connection refused"}, false
	case LostAnswer:
		return &engine.IssuerError{Issuer: f.name, Message: "timeout awaiting response headers"}, true
	case Garbled:
		return &engine.IssuerError{Issuer: f.name, Status: 200, Code: "invalid_response", Message: "not JSON"}, true
	case ServerError:
		return &engine.IssuerError{Issuer: f.name, Status: 500, Message: "internal error"}, false
	}
	return &engine.IssuerError{Issuer: f.name, Status: 400, Code: "invalid_request", Message: "refused"}, false
}

// CreateCard implements engine.CardIssuer.
func (f *Issuer) CreateCard(ctx context.Context, spec engine.IssuerCardSpec) (*engine.IssuedCard, error) {
	if f.OnCreate != nil {
		f.OnCreate()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: "CreateCard", CardID: spec.CardID, Status: spec.Status})
	err, act := f.fault(ctx, "CreateCard")
	if act {
		if ext, ok := f.byCard[spec.CardID]; ok {
			c := *f.cards[ext]
			return &c, err
		}
		holder := spec.Cardholder.ExternalID
		if holder == "" {
			if holder = f.holders[spec.Cardholder.UserID]; holder == "" {
				f.next++
				holder = fmt.Sprintf("ich_%d", f.next)
				f.holders[spec.Cardholder.UserID] = holder
			}
		}
		f.next++
		c := &engine.IssuedCard{ExternalID: fmt.Sprintf("ic_%d", f.next), CardholderID: holder,
			Last4: fmt.Sprintf("%04d", 4000+f.next), ExpMonth: 7, ExpYear: 2031, Status: spec.Status,
			Controls: f.Mirrored(spec.Controls)}
		f.cards[c.ExternalID], f.byCard[spec.CardID] = c, c.ExternalID
		f.calls[len(f.calls)-1].Ext = c.ExternalID
		if err == nil {
			out := *c
			return &out, nil
		}
	}
	return nil, err
}

// UpdateCard implements engine.CardIssuer.
func (f *Issuer) UpdateCard(ctx context.Context, ext string, spec engine.IssuerCardSpec) (*engine.IssuedCard, error) {
	if f.OnUpdate != nil {
		f.OnUpdate(spec)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: "UpdateCard", CardID: spec.CardID, Ext: ext, Status: spec.Status})
	err, act := f.fault(ctx, "UpdateCard")
	if !act {
		return nil, err
	}
	c, ok := f.cards[ext]
	switch {
	case !ok:
		return nil, &engine.IssuerError{Issuer: f.name, Status: 404, Message: "no such card"}
	case c.Status == engine.CardClosed && spec.Status != engine.CardClosed && spec.Status != "":
		return nil, &engine.IssuerError{Issuer: f.name, Status: 400, Message: "the card is canceled"}
	}
	if spec.Status != "" {
		c.Status = spec.Status
	}
	c.Controls = f.Mirrored(spec.Controls)
	if err != nil {
		return nil, err
	}
	out := *c
	return &out, nil
}

// GetCard implements engine.CardIssuer.
func (f *Issuer) GetCard(ctx context.Context, ext string) (*engine.IssuedCard, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: "GetCard", Ext: ext})
	if err, act := f.fault(ctx, "GetCard"); !act || err != nil {
		return nil, err
	}
	c, ok := f.cards[ext]
	if !ok {
		return nil, &engine.IssuerError{Issuer: f.name, Status: 404, Message: "no such card"}
	}
	out := *c
	return &out, nil
}

// Credentials implements engine.CardIssuer. The number is a test number
// ending in the card's last four digits.
func (f *Issuer) Credentials(ctx context.Context, ext string) (*engine.IssuerCredentials, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: "Credentials", Ext: ext})
	if err, act := f.fault(ctx, "Credentials"); !act || err != nil {
		return nil, err
	}
	c, ok := f.cards[ext]
	if !ok {
		return nil, &engine.IssuerError{Issuer: f.name, Status: 404, Message: "no such card"}
	}
	return &engine.IssuerCredentials{PAN: "424242424242" + c.Last4, CVV: "314", ExpMonth: c.ExpMonth, ExpYear: c.ExpYear}, nil
}

// Mirrored implements engine.CardIssuer.
func (f *Issuer) Mirrored(c engine.IssuerControls) engine.IssuerControls {
	if !f.MirrorsMCCs {
		c.AllowedMCCs, c.BlockedMCCs = nil, nil
	}
	return c
}
