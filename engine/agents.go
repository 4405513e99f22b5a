package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CreateAgentInput registers an agent under a user.
type CreateAgentInput struct {
	Name   string  `json:"name"`
	User   string  `json:"user"`
	Mode   string  `json:"mode"`   // default live
	Policy *Policy `json:"policy"` // default: no limits, intents required
	// PaperFunding starts the agent's paper balance, in minor units of its
	// policy currency (0: none), in the same transaction.
	PaperFunding   int64  `json:"paper_funding,omitempty"`
	IdempotencyKey string `json:"-"`
}

// CreateAgent registers an agent. Operators only.
func (e *Engine) CreateAgent(ctx context.Context, actor Actor, in CreateAgentInput) (*Agent, error) {
	if err := actor.requireRole("create agent", RoleAdmin); err != nil {
		return nil, err
	}
	var err error
	if in.Name, err = checkName("name", in.Name); err != nil {
		return nil, err
	}
	if in.Mode == "" {
		in.Mode = ModeLive
	}
	if err := checkOneOf("mode", in.Mode, ModeLive, ModePaper, ModeApprovalOnly, ModeDisabled); err != nil {
		return nil, err
	}
	if in.PaperFunding != 0 {
		if err := checkAmount("paper_funding", in.PaperFunding); err != nil {
			return nil, err
		}
	}
	policy := Policy{}
	if in.Policy != nil {
		policy = *in.Policy
	}
	if policy, err = policy.normalize(); err != nil {
		return nil, err
	}
	in.Policy = &policy
	var out *Agent
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "agent.create", in, now, func() (*Agent, error) {
			u, err := findUser(tx, "user", in.User)
			if err != nil {
				return nil, err
			}
			a := &Agent{ID: e.newID(PrefixAgent, now), Name: in.Name, UserID: u.ID, Mode: in.Mode, Policy: policy, CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertAgent(a); err != nil {
				if ErrorCode(err) == CodeConflict {
					return nil, &Error{Code: CodeConflict, Field: "name", Message: "name: an agent named " + in.Name + " already exists"}
				}
				return nil, err
			}
			if in.PaperFunding > 0 {
				if _, err := e.fundPaper(tx, a, in.PaperFunding, "", now); err != nil {
					return nil, err
				}
			}
			return a, nil
		})
		return err
	})
	return out, err
}

// GetAgent returns an agent by id or name. An agent key sees only itself.
func (e *Engine) GetAgent(ctx context.Context, actor Actor, ref string) (*Agent, error) {
	var out *Agent
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = findAgentFor(tx, actor, "agent", ref)
		return err
	})
	return out, err
}

// ListAgents returns a page of agents, oldest first, optionally of one
// user. An agent key sees only itself.
func (e *Engine) ListAgents(ctx context.Context, actor Actor, userRef string, page Page) (List[Agent], error) {
	if err := page.check(PrefixAgent); err != nil {
		return List[Agent]{}, err
	}
	var out List[Agent]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		f := AgentFilter{}
		if userRef != "" {
			u, err := findUser(tx, "user", userRef)
			if err != nil {
				return err
			}
			f.UserID = u.ID
		}
		if actor.scoped() { // at most itself: no need to walk the others
			out = List[Agent]{Items: []*Agent{}}
			a, err := tx.FindAgent(actor.AgentID)
			if IsNotFound(err) {
				return nil
			} else if err != nil {
				return err
			}
			if (f.UserID == "" || a.UserID == f.UserID) && a.ID > page.StartingAfter {
				out.Items = append(out.Items, a)
			}
			return nil
		}
		var err error
		out, err = paginate(page, func(a *Agent) string { return a.ID }, func(after string, limit int) ([]*Agent, error) {
			f.After, f.Limit = after, limit
			return tx.ListAgents(f)
		}, func(a *Agent) *Agent {
			if actor.canSee(a.ID) {
				return a
			}
			return nil
		})
		return err
	})
	return out, err
}

// SetModeInput changes an agent's mode and, in the same transaction, may
// block or unblock action types in its policy (capped.ai's live_disabled is
// live with trade blocked).
type SetModeInput struct {
	Agent            string   `json:"agent"`
	Mode             string   `json:"mode"`
	BlockActionTypes []string `json:"block_action_types,omitempty"`
	// UnblockIfLive unblocks these action types only if the agent is live
	// before the change (capped.ai's live_disabled is a live agent with
	// trade blocked): a block set on an agent in another mode stays.
	UnblockIfLive  []string `json:"unblock_if_live,omitempty"`
	IdempotencyKey string   `json:"-"`
}

// SetAgentMode changes an agent's mode. Operators only.
func (e *Engine) SetAgentMode(ctx context.Context, actor Actor, in SetModeInput) (*Agent, error) {
	if err := actor.requireRole("set agent mode", RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkOneOf("mode", in.Mode, ModeLive, ModePaper, ModeApprovalOnly, ModeDisabled); err != nil {
		return nil, err
	}
	var out *Agent
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "agent.mode", in, now, func() (*Agent, error) {
			a, err := findAgentFor(tx, actor, "agent", in.Agent)
			if err != nil {
				return nil, err
			}
			var unblock []string
			if a.Mode == ModeLive {
				unblock = in.UnblockIfLive
			}
			a.Mode, a.UpdatedAt = in.Mode, now
			if len(in.BlockActionTypes)+len(unblock) == 0 {
				return a, tx.UpdateAgent(a)
			}
			policy := a.Policy
			policy.BlockedActionTypes = slices.DeleteFunc(slices.Clone(policy.BlockedActionTypes), func(t string) bool {
				return slices.Contains(unblock, t)
			})
			for _, t := range in.BlockActionTypes {
				if !slices.Contains(policy.BlockedActionTypes, t) {
					policy.BlockedActionTypes = append(policy.BlockedActionTypes, t)
				}
			}
			if policy, err = policy.normalize(); err != nil {
				return nil, err
			}
			return a, e.savePolicy(tx, a, policy, now)
		})
		return err
	})
	if err == nil {
		e.followAgentIssuerCards(ctx, out.ID)
	}
	return out, err
}

// SetPolicyInput replaces an agent's policy.
type SetPolicyInput struct {
	Agent          string `json:"agent"`
	Policy         Policy `json:"policy"`
	IdempotencyKey string `json:"-"`
}

// SetPolicy validates and replaces an agent's policy. The policy currency
// may change only while the agent has no open card in the old one, since a
// card's currency is its policy's. Operators only.
func (e *Engine) SetPolicy(ctx context.Context, actor Actor, in SetPolicyInput) (*Agent, error) {
	if err := actor.requireRole("set policy", RoleAdmin); err != nil {
		return nil, err
	}
	policy, err := in.Policy.normalize()
	if err != nil {
		return nil, err
	}
	in.Policy = policy
	var out *Agent
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "policy.set", in, now, func() (*Agent, error) {
			a, err := findAgentFor(tx, actor, "agent", in.Agent)
			if err != nil {
				return nil, err
			}
			if err := e.savePolicy(tx, a, policy, now); err != nil {
				return nil, err
			}
			return a, nil
		})
		return err
	})
	if err == nil {
		e.followAgentIssuerCards(ctx, out.ID)
	}
	return out, err
}

// PatchPolicyInput changes some fields of an agent's policy, as a JSON merge
// patch of its top-level fields (RFC 7396, one level deep): a field present
// sets it, a field set to null clears it (back to no limit / the default),
// a field absent is kept. An object field (velocity) is given whole.
type PatchPolicyInput struct {
	Agent          string                     `json:"agent"`
	Patch          map[string]json.RawMessage `json:"patch"`
	IdempotencyKey string                     `json:"-"`
}

// PatchPolicy changes the fields of an agent's policy that the patch names,
// keeping the others, and validates the result as SetPolicy does (the same
// currency rule too). The merge reads the policy in the write transaction,
// so concurrent patches of different fields all take effect. A field is
// replaced whole: patching velocity sets both its count and window.
// Operators only.
func (e *Engine) PatchPolicy(ctx context.Context, actor Actor, in PatchPolicyInput) (*Agent, error) {
	if err := actor.requireRole("patch policy", RoleAdmin); err != nil {
		return nil, err
	}
	if len(in.Patch) == 0 {
		return nil, invalid("patch", "names no policy field; give at least one, or null to clear it")
	}
	for _, field := range slices.Sorted(maps.Keys(in.Patch)) { // each field on its own, so that an error names it
		// encoding/json matches names regardless of case; a patch must not:
		// "Daily_Limit" would be accepted and then lose to the stored
		// "daily_limit" in the merge.
		if !policyFields[field] {
			return nil, invalid(field, "is not a policy field (fields are named as GET shows them, in lower case)")
		}
		if err := decodePolicy(map[string]json.RawMessage{field: in.Patch[field]}, &Policy{}); err != nil {
			return nil, err
		}
	}
	var out *Agent
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "policy.patch", in, now, func() (*Agent, error) {
			a, err := findAgentFor(tx, actor, "agent", in.Agent)
			if err != nil {
				return nil, err
			}
			fields := map[string]json.RawMessage{}
			current, err := json.Marshal(a.Policy)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(current, &fields); err != nil {
				return nil, err
			}
			for field, v := range in.Patch {
				if string(bytes.TrimSpace(v)) == "null" {
					delete(fields, field)
				} else {
					fields[field] = v
				}
			}
			var policy Policy
			if err := decodePolicy(fields, &policy); err != nil {
				return nil, err
			}
			if policy, err = policy.normalize(); err != nil {
				return nil, err
			}
			if err := e.savePolicy(tx, a, policy, now); err != nil {
				return nil, err
			}
			return a, nil
		})
		return err
	})
	if err == nil {
		e.followAgentIssuerCards(ctx, out.ID)
	}
	return out, err
}

// policyFields are the JSON names of a policy's fields.
var policyFields = func() map[string]bool {
	raw, err := json.Marshal(Policy{})
	if err != nil {
		panic(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}()

// decodePolicy decodes policy fields strictly: an unknown field, or a value
// of the wrong type, is INVALID_INPUT naming the field.
func decodePolicy(fields map[string]json.RawMessage, p *Policy) error {
	for field, v := range fields {
		if !json.Valid(v) {
			return invalid(field, "is not valid JSON")
		}
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(p)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if i := strings.LastIndex(field, "SpendLimits."); i >= 0 { // the embedded limits are the policy's own fields
			field = field[i+len("SpendLimits."):]
		}
		return invalid(field, "must be %s, not a JSON %s", jsonKind(typeErr.Type), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return invalid(field, "is not a policy field")
	}
	return invalid("patch", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON a Go type takes, for an error message.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	}
	return "an object"
}

// savePolicy gives an agent a validated policy. The policy currency may
// change only while the agent has no open card in the old one, since a
// card's currency is its policy's. When the limits change, the agent's
// issuer cards are queued: their issuers mirror the limits.
func (e *Engine) savePolicy(tx Tx, a *Agent, policy Policy, now time.Time) error {
	if policy.Currency != a.Policy.Effective().Currency {
		cards, err := tx.ListCards(CardFilter{AgentID: a.ID})
		if err != nil {
			return err
		}
		for _, c := range cards {
			if c.Status != CardClosed && c.Currency != policy.Currency {
				return invalid("currency", "agent %s has open %s card %s; close it before moving the policy to %s", a.Name, c.Currency, c.ID, policy.Currency)
			}
		}
	}
	limitsChanged := !sameLimits(a.Policy.SpendLimits, policy.SpendLimits)
	was := a.Policy.Velocity
	a.Policy, a.UpdatedAt = policy, now
	if err := tx.UpdateAgent(a); err != nil {
		return err
	}
	// The scope is kept only with a limit, and holds the spends of its
	// window (velocityDeltas).
	switch v := policy.Velocity; {
	case v != nil && (was == nil || v.WindowSeconds > was.WindowSeconds):
		if err := tx.FillAgentVelocity(a.ID, now.Add(-v.window()-velocityFillMargin)); err != nil {
			return err
		}
	case v == nil && was != nil:
		if err := tx.ClearVelocity(AgentCountScope(a.ID)); err != nil {
			return err
		}
	}
	if limitsChanged {
		return e.queueAgentIssuerCards(tx, a.ID, now)
	}
	return nil
}

// sameLimits reports whether two sets of limits are equal.
func sameLimits(a, b SpendLimits) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// FundPaperInput adds virtual money to a paper agent's balance.
type FundPaperInput struct {
	Agent          string `json:"agent"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"` // default: the policy currency
	IdempotencyKey string `json:"-"`
}

// FundPaper credits an agent's virtual (paper) balance, which paper-mode
// spending draws on instead of the user's funds. Operators only.
func (e *Engine) FundPaper(ctx context.Context, actor Actor, in FundPaperInput) (*Balance, error) {
	if err := actor.requireRole("fund paper balance", RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	var out *Balance
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "agent.fund_paper", in, now, func() (*Balance, error) {
			a, err := findAgentFor(tx, actor, "agent", in.Agent)
			if err != nil {
				return nil, err
			}
			return e.fundPaper(tx, a, in.Amount, in.Currency, now)
		})
		return err
	})
	return out, err
}

// fundPaper credits an agent's paper account in the currency (default: its
// policy currency) and reports it.
func (e *Engine) fundPaper(tx Tx, a *Agent, amount int64, currency string, now time.Time) (*Balance, error) {
	cur, err := normalizeCurrency("currency", currency, a.Policy.Effective().Currency)
	if err != nil {
		return nil, err
	}
	acct := PaperAccountID(a.ID, cur)
	if err := tx.InsertTransfer(&Transfer{
		ID: e.newID(PrefixTransfer, now), Kind: TransferPosted, DebitAccountID: paperMintAccountID(cur),
		CreditAccountID: acct, Amount: amount, Currency: cur, Reference: a.ID, CreatedAt: now,
	}); err != nil {
		return nil, err
	}
	b, err := accountBalance(tx, acct, cur, "", a.ID)
	if err != nil {
		return nil, err
	}
	return b, e.emit(tx, now, EventAccountFunded, Funded{Balance: *b, Amount: amount, Paper: true})
}

// PaperBalance returns a paper agent's virtual balance in a currency
// (default: its policy currency).
func (e *Engine) PaperBalance(ctx context.Context, actor Actor, agentRef, currency string) (*Balance, error) {
	var out *Balance
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		a, err := findAgentFor(tx, actor, "agent", agentRef)
		if err != nil {
			return err
		}
		cur, err := normalizeCurrency("currency", currency, a.Policy.Effective().Currency)
		if err != nil {
			return err
		}
		out, err = accountBalance(tx, PaperAccountID(a.ID, cur), cur, "", a.ID)
		return err
	})
	return out, err
}
