package engine

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// SetDefaultIssuerInput sets the issuer an agent's new cards are
// provisioned at.
type SetDefaultIssuerInput struct {
	Agent string `json:"agent"`
	// Issuer is IssuerStripe, IssuerLithic, or IssuerNone (or empty) for
	// sandbox cards.
	Issuer         string `json:"issuer"`
	IdempotencyKey string `json:"-"`
}

// SetDefaultIssuer sets the issuer an agent's new cards are provisioned at
// when card create names none. Existing cards stay where they are.
// Operators only.
func (e *Engine) SetDefaultIssuer(ctx context.Context, actor Actor, in SetDefaultIssuerInput) (*Agent, error) {
	if err := actor.requireRole("set default issuer", RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkOneOf("issuer", in.Issuer, IssuerStripe, IssuerLithic, IssuerNone, ""); err != nil {
		return nil, err
	}
	if in.Issuer == IssuerNone {
		in.Issuer = ""
	}
	var out *Agent
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "agent.default_issuer", in, now, func() (*Agent, error) {
			a, err := findAgentFor(tx, actor, "agent", in.Agent)
			if err != nil {
				return nil, err
			}
			a.DefaultIssuer, a.UpdatedAt = in.Issuer, now
			return a, tx.UpdateAgent(a)
		})
		return err
	})
	return out, err
}

// IssuerDrift is a difference between an issuer card here and at its
// issuer, and what was done about it.
type IssuerDrift struct {
	CardID       string `json:"card_id"`
	Issuer       string `json:"issuer"`
	IssuerCardID string `json:"issuer_card_id"`
	Field        string `json:"field"` // status, controls, or issuer when the issuer could not be asked
	Here         string `json:"here"`
	AtIssuer     string `json:"at_issuer"`
	// Repair is what was done: "pushed to the issuer", "closed here",
	// "frozen here", "none (dry run)", or why it failed.
	Repair string `json:"repair"`
}

// IssuerSyncReport is what an issuer sync found and did.
type IssuerSyncReport struct {
	Checked int           `json:"checked"` // issuer cards compared with their issuer
	Drift   []IssuerDrift `json:"drift"`
	// Queued are the queue entries left after the sync: changes that still
	// have not reached their issuer, and abandoned cards not yet cancelled.
	Queued []*IssuerSync `json:"queued"`
}

// IssuerSyncInput asks for a sync of every issuer card.
type IssuerSyncInput struct {
	DryRun bool `json:"dry_run"`
}

// SyncIssuers compares every open issuer card with its issuer and repairs
// what differs, then works the whole issuer queue. A status changed here
// and still queued is pushed: agentledger's state is the one wanted. A
// status changed at the issuer alone (someone used the issuer's dashboard)
// keeps the stricter one: frozen there freezes the card here, anything
// looser is pushed back. A card closed at the issuer is closed here, queued
// or not, since nothing can reopen it. Controls are always pushed. With
// DryRun nothing is changed. Operators only.
func (e *Engine) SyncIssuers(ctx context.Context, actor Actor, in IssuerSyncInput) (*IssuerSyncReport, error) {
	if err := actor.requireRole("sync issuers", RoleAdmin); err != nil {
		return nil, err
	}
	report := &IssuerSyncReport{Drift: []IssuerDrift{}}
	after := ""
	for {
		var cards []*Card
		queued := map[string]*IssuerSync{}
		specs := map[string]IssuerCardSpec{}
		err := e.view(ctx, func(tx Tx, _ time.Time) error {
			var err error
			if cards, err = tx.ListCards(CardFilter{IssuerOnly: true, After: after, Limit: MaxPageLimit}); err != nil {
				return err
			}
			for _, c := range cards {
				if q, err := tx.FindIssuerSync(c.ID); err == nil {
					queued[c.ID] = q
				} else if !IsNotFound(err) {
					return err
				}
				if specs[c.ID], err = issuerSpecFor(tx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, c := range cards {
			if c.Status == CardClosed && queued[c.ID] == nil {
				continue // closed here and told: nothing can reopen it
			}
			report.Checked++
			report.Drift = append(report.Drift, e.checkIssuerCard(ctx, c, specs[c.ID], queued[c.ID], in.DryRun)...)
		}
		if len(cards) < MaxPageLimit {
			break
		}
		after = cards[len(cards)-1].ID
	}
	if !in.DryRun {
		for {
			tried, left, err := e.workIssuerQueue(ctx, false)
			if err != nil {
				return nil, err
			}
			if tried == 0 || left == tried {
				break
			}
		}
	}
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		report.Queued, err = tx.ListIssuerSync(IssuerSyncFilter{})
		return err
	})
	if report.Queued == nil {
		report.Queued = []*IssuerSync{}
	}
	return report, err
}

// checkIssuerCard compares one card with its issuer's copy and repairs the
// difference unless dryRun. q is the card's queue entry, if it has one.
func (e *Engine) checkIssuerCard(ctx context.Context, c *Card, spec IssuerCardSpec, q *IssuerSync, dryRun bool) []IssuerDrift {
	drift := func(field, here, there string) IssuerDrift {
		return IssuerDrift{CardID: c.ID, Issuer: c.Issuer, IssuerCardID: c.IssuerCardID, Field: field, Here: here,
			AtIssuer: there, Repair: "none (dry run)"}
	}
	var iss CardIssuer
	var have *IssuedCard
	err := e.callIssuer(ctx, c.Issuer, "", func(ctx context.Context, api CardIssuer) error {
		var err error
		iss = api
		have, err = api.GetCard(ctx, c.IssuerCardID)
		return err
	})
	if err != nil {
		d := drift("issuer", c.Status, "unknown")
		d.Repair = "not checked: " + ErrorMessage(err)
		return []IssuerDrift{d}
	}
	var out []IssuerDrift
	push, pushStatus := q != nil, q != nil && q.StatusChanged
	if have.Status != c.Status {
		d := drift("status", c.Status, have.Status)
		changedHere := q != nil && q.StatusChanged
		switch {
		case dryRun:
		case have.Status == CardClosed || (statusRank(have.Status) > statusRank(c.Status) && !changedHere):
			d.Repair = e.adoptIssuerStatus(ctx, c, have.Status)
			push = false
		default:
			push, pushStatus = true, true
			d.Repair = "pushed to the issuer"
		}
		out = append(out, d)
	}
	if want := iss.Mirrored(spec.Controls); !sameControls(want, have.Controls) {
		d := drift("controls", describeControls(want), describeControls(have.Controls))
		if !dryRun {
			push = true
			d.Repair = "pushed to the issuer"
		}
		out = append(out, d)
	}
	if push && !dryRun {
		if err := e.forcePush(ctx, c, pushStatus); err != nil {
			for i := range out {
				if out[i].Repair == "pushed to the issuer" {
					out[i].Repair = "push failed, queued: " + ErrorMessage(err)
				}
			}
		}
	}
	return out
}

// forcePush queues a card (keeping what its entry says) and pushes it now.
func (e *Engine) forcePush(ctx context.Context, c *Card, withStatus bool) error {
	if err := e.update(ctx, func(tx Tx, now time.Time) error {
		return e.queueIssuerCard(tx, c, now, withStatus)
	}); err != nil {
		return err
	}
	return e.pushIssuerCard(ctx, c.ID)
}

// adoptIssuerStatus makes a card here as strict as the issuer made it.
func (e *Engine) adoptIssuerStatus(ctx context.Context, c *Card, status string) string {
	by := "issuer:" + c.Issuer
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		card, err := tx.FindCard(c.ID)
		if err != nil {
			return err
		}
		return e.applyCardChange(tx, card, now, func(card *Card, now time.Time) error {
			switch status {
			case CardClosed:
				card.Status, card.ClosedBy, card.ClosedAt = CardClosed, by, &now
			case CardFrozen:
				if card.Status == CardActive {
					card.Status, card.FrozenBy, card.FrozenAt = CardFrozen, by, &now
				}
			}
			return nil
		}, func(tx Tx, card *Card, now time.Time) error {
			if status == CardClosed {
				return e.cancelCardIntents(tx, card, now)
			}
			return nil
		})
	})
	if err != nil {
		return "failed: " + ErrorMessage(err)
	}
	// The change queued the card; the issuer already has this status.
	_ = e.pushIssuerCard(ctx, c.ID)
	return status + " here"
}

// statusRank orders card statuses by strictness.
func statusRank(status string) int {
	switch status {
	case CardClosed:
		return 2
	case CardFrozen:
		return 1
	}
	return 0
}

func sameControls(a, b IssuerControls) bool {
	return a.PerTransaction == b.PerTransaction && a.Daily == b.Daily && a.Monthly == b.Monthly &&
		a.Lifetime == b.Lifetime && slices.Equal(sortedMCCs(a.AllowedMCCs), sortedMCCs(b.AllowedMCCs)) &&
		slices.Equal(sortedMCCs(a.BlockedMCCs), sortedMCCs(b.BlockedMCCs))
}

func sortedMCCs(m []string) []string {
	out := slices.Clone(m)
	slices.Sort(out)
	return slices.Compact(out)
}

// describeControls writes controls for a drift report.
func describeControls(c IssuerControls) string {
	s := fmt.Sprintf("per_transaction=%d daily=%d monthly=%d lifetime=%d", c.PerTransaction, c.Daily, c.Monthly, c.Lifetime)
	if len(c.AllowedMCCs) > 0 {
		s += fmt.Sprintf(" allowed_mccs=%v", sortedMCCs(c.AllowedMCCs))
	}
	if len(c.BlockedMCCs) > 0 {
		s += fmt.Sprintf(" blocked_mccs=%v", sortedMCCs(c.BlockedMCCs))
	}
	return s
}
