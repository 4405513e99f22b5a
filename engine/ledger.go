package engine

import (
	"context"
	"strings"
	"time"
)

// Account kinds. User and paper accounts may never go below zero available;
// system accounts are the other side of deposits and settlements and may.
const (
	AccountUser   = "user"
	AccountPaper  = "paper"
	AccountSystem = "system"
)

// Transfer kinds (DESIGN §6). A pending transfer is a hold; it is later
// resolved by exactly one post_pending or void_pending transfer.
const (
	TransferPosted      = "posted"
	TransferPending     = "pending"
	TransferPostPending = "post_pending"
	TransferVoidPending = "void_pending"
)

// Account is one ledger account in one currency. Balances are kept as four
// running sums of the transfers that touch it.
type Account struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"`
	OwnerID        string `json:"owner_id"`
	Currency       string `json:"currency"`
	DebitsPending  int64  `json:"debits_pending"`
	DebitsPosted   int64  `json:"debits_posted"`
	CreditsPending int64  `json:"credits_pending"`
	CreditsPosted  int64  `json:"credits_posted"`
}

// Posted is the account's settled balance.
func (a *Account) Posted() int64 { return a.CreditsPosted - a.DebitsPosted }

// Available is what may still be spent: credits − posted debits − pending
// debits (DESIGN §6).
func (a *Account) Available() int64 { return a.CreditsPosted - a.DebitsPosted - a.DebitsPending }

// Transfer is an immutable movement of money between two accounts.
type Transfer struct {
	ID              string    `json:"id"`
	Kind            string    `json:"kind"`
	DebitAccountID  string    `json:"debit_account_id"`
	CreditAccountID string    `json:"credit_account_id"`
	Amount          int64     `json:"amount"`
	Currency        string    `json:"currency"`
	PendingID       string    `json:"pending_id,omitempty"`
	Reference       string    `json:"reference,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
}

// UserAccountID is the funding account of a user in a currency.
func UserAccountID(userID, currency string) string { return "user:" + userID + ":" + currency }

// PaperAccountID is the virtual balance of a paper-mode agent in a currency.
func PaperAccountID(agentID, currency string) string { return "paper:" + agentID + ":" + currency }

// System accounts, one per currency: where deposits come from, where card
// settlements go to, and where paper money is minted.
func depositsAccountID(currency string) string   { return "system:deposits:" + currency }
func settlementAccountID(currency string) string { return "system:settlement:" + currency }
func paperMintAccountID(currency string) string  { return "system:paper:" + currency }

// Balance is a user's (or paper agent's) money in one currency.
type Balance struct {
	UserID    string `json:"user_id,omitempty"`
	AgentID   string `json:"agent_id,omitempty"`
	Currency  string `json:"currency"`
	Posted    int64  `json:"posted"`
	Pending   int64  `json:"pending"`
	Available int64  `json:"available"`
}

// LedgerReport is the outcome of a ledger verification.
type LedgerReport struct {
	OK      bool     `json:"ok"`
	Checked int      `json:"checked"`
	Faults  []string `json:"faults"`
}

// ParseAccountID splits an account id of the form "<kind>:<owner>:<currency>"
// into its parts; ok is false for any other form.
func ParseAccountID(id string) (kind, owner, currency string, ok bool) {
	first := strings.IndexByte(id, ':')
	last := strings.LastIndexByte(id, ':')
	if first <= 0 || last <= first+1 || last == len(id)-1 {
		return "", "", "", false
	}
	kind, owner, currency = id[:first], id[first+1:last], id[last+1:]
	switch kind {
	case AccountUser, AccountPaper, AccountSystem:
		return kind, owner, currency, true
	}
	return "", "", "", false
}

// VerifyLedger checks the ledger's invariants (DESIGN §6). Operators and
// viewers only.
func (e *Engine) VerifyLedger(ctx context.Context, actor Actor) (*LedgerReport, error) {
	if err := actor.requireRole("verify the ledger", RoleAdmin, RoleViewer); err != nil {
		return nil, err
	}
	return e.store.VerifyLedger(ctx)
}

// maxAuthorizationTransfers bounds the transfers AuthorizationTransfers
// returns: a hold, its post or void, and the refunds of a settled charge.
const maxAuthorizationTransfers = MaxPageLimit

// AuthorizationTransfers returns the ledger transfers of an authorization,
// oldest first: a charge's hold (pending), the transfer that posted or
// voided it, and its refunds (posted back); a settled credit's posting.
// A declined authorization has none. Operators, viewers and the agent's
// own key; NOT_FOUND for an authorization the actor may not see. At most
// the first 100 are returned.
func (e *Engine) AuthorizationTransfers(ctx context.Context, actor Actor, id string) ([]*Transfer, error) {
	if err := actor.requireRole("list an authorization's transfers", RoleAdmin, RoleViewer, RoleAgent); err != nil {
		return nil, err
	}
	var out []*Transfer
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		a, err := findAuthorizationFor(tx, actor, id)
		if err != nil {
			return err
		}
		out, err = tx.ListTransfers(TransferFilter{Reference: a.ID, Limit: maxAuthorizationTransfers})
		return err
	})
	return out, err
}
