package engine

import (
	"encoding/json"
	"time"
)

// KYC statuses of a user.
const (
	KYCPending  = "pending"
	KYCApproved = "approved"
	KYCRejected = "rejected"
)

// User is the funding source behind one or more agents: a person or a
// company, not the developer. Its money lives in ledger accounts, one per
// currency.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	KYCStatus string    `json:"kyc_status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Agent modes.
const (
	ModeLive         = "live"
	ModePaper        = "paper"
	ModeApprovalOnly = "approval_only"
	ModeDisabled     = "disabled"
)

// Agent is a spending identity under one user. Its policy travels with it.
type Agent struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	UserID string `json:"user_id"`
	Mode   string `json:"mode"`
	Policy Policy `json:"policy"`
	// DefaultIssuer is the issuer the agent's new cards are provisioned at,
	// IssuerStripe or IssuerLithic; empty for agentledger's sandbox cards.
	DefaultIssuer string    `json:"default_issuer,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	// Risk is the agent's rolling history the risk signals read. The engine
	// keeps it; no face shows it.
	Risk RiskState `json:"-"`
}

// Card types and statuses.
const (
	CardSingleUse = "single_use"
	CardMultiUse  = "multi_use"

	CardActive = "active"
	CardFrozen = "frozen"
	CardClosed = "closed"
)

// Card is a virtual card issued to an agent. The PAN and CVV are not part of
// it: they live encrypted in the store and come out only through a reveal.
type Card struct {
	ID       string      `json:"id"`
	AgentID  string      `json:"agent_id"`
	Type     string      `json:"type"`
	Status   string      `json:"status"`
	Last4    string      `json:"last4"`
	ExpMonth int         `json:"exp_month"`
	ExpYear  int         `json:"exp_year"`
	Currency string      `json:"currency"`
	Purpose  string      `json:"purpose,omitempty"`
	Limits   SpendLimits `json:"limits"`
	FrozenBy string      `json:"frozen_by,omitempty"`
	FrozenAt *time.Time  `json:"frozen_at,omitempty"`
	ClosedBy string      `json:"closed_by,omitempty"`
	ClosedAt *time.Time  `json:"closed_at,omitempty"`
	// Issuer is the real issuer the card was provisioned at (IssuerStripe,
	// IssuerLithic), whose number it carries; empty for a sandbox card.
	Issuer       string `json:"issuer,omitempty"`
	IssuerCardID string `json:"issuer_card_id,omitempty"`
	// IssuerSync says, in the answer of a change to an issuer card, whether
	// the issuer has it yet: "synced", or "pending: <why>" while the change
	// waits in the issuer queue. It is not stored.
	IssuerSync string    `json:"issuer_sync,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CardSecret is what a reveal shows. The store keeps it encrypted.
type CardSecret struct {
	PAN string
	CVV string
}

// Intent statuses (DESIGN §3).
const (
	IntentAwaitingApproval = "awaiting_approval"
	IntentPending          = "pending"
	IntentRevealed         = "revealed"
	IntentMatched          = "matched"
	IntentMismatched       = "mismatched"
	IntentDenied           = "denied"
	IntentCancelled        = "cancelled"
	IntentExpired          = "expired"
)

// Intent is an agent's attestation of one purchase it is about to make.
type Intent struct {
	ID         string `json:"id"`
	AgentID    string `json:"agent_id"`
	CardID     string `json:"card_id,omitempty"`
	Summary    string `json:"summary"`
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	Merchant   string `json:"merchant,omitempty"`
	MCC        string `json:"mcc,omitempty"`
	Status     string `json:"status"`
	TTLSeconds int64  `json:"ttl_seconds"`
	// ExpiresAt is when a pending or revealed intent lapses; for one awaiting
	// approval it is when the approval request lapses.
	ExpiresAt       time.Time   `json:"expires_at"`
	DecisionID      string      `json:"decision_id,omitempty"`
	AuthorizationID string      `json:"authorization_id,omitempty"`
	Attestation     Attestation `json:"attestation"`
	CreatedAt       time.Time   `json:"created_at"`
	RevealedAt      *time.Time  `json:"revealed_at,omitempty"`
	ResolvedAt      *time.Time  `json:"resolved_at,omitempty"`
}

// Attestation records who declared an intent.
type Attestation struct {
	AgentID       string `json:"agent_id"`
	KeyID         string `json:"key_id,omitempty"`
	ClientName    string `json:"client_name,omitempty"`
	ClientVersion string `json:"client_version,omitempty"`
}

// Authorization statuses.
const (
	AuthApproved = "approved"
	AuthDeclined = "declined"
	AuthSettled  = "settled"
	AuthReversed = "reversed"
	AuthExpired  = "expired"
)

// Authorization kinds: a charge spends money; a credit (an issuer's credit
// authorization: a merchant's refund) brings it back to the card.
const (
	KindCharge = "charge"
	KindCredit = "credit"
)

// Network answers: what the card network is told. A paper agent's approved
// charge is recorded as approved, but the network must decline it: no real
// money moves.
const (
	NetworkApprove = "approve"
	NetworkDecline = "decline"
)

// Merchant is the card acceptor as the network describes it.
type Merchant struct {
	Name    string `json:"name"`
	MCC     string `json:"mcc,omitempty"`
	ID      string `json:"id,omitempty"`
	Country string `json:"country,omitempty"`
}

// Check is one named rule's result within a decision.
type Check struct {
	Rule    string `json:"rule"`
	Result  string `json:"result"` // pass, fail or skip
	Message string `json:"message"`
}

// Check results.
const (
	CheckPass = "pass"
	CheckFail = "fail"
	CheckSkip = "skip"
)

// Authorization is one card charge attempt from the network and what became
// of it.
type Authorization struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	CardID      string `json:"card_id"`
	AgentID     string `json:"agent_id"`
	UserID      string `json:"user_id"`
	Status      string `json:"status"`
	DeclineCode string `json:"decline_code"`
	Reason      string `json:"reason"`
	// NetworkAnswer is what the card network (an issuer, an adapter) must
	// answer: NetworkApprove or NetworkDecline. It differs from the status
	// for a paper agent, whose approvals the network must decline.
	NetworkAnswer  string       `json:"network_answer"`
	Amount         int64        `json:"amount"`
	Currency       string       `json:"currency"`
	Merchant       Merchant     `json:"merchant"`
	IntentID       string       `json:"intent_id"`
	DecisionID     string       `json:"decision_id"`
	RiskScore      int          `json:"risk_score"`
	RiskSignals    []RiskSignal `json:"risk_signals"`
	RiskReview     bool         `json:"risk_review"`
	Checks         []Check      `json:"checks"`
	Paper          bool         `json:"paper"`
	NetworkID      string       `json:"network_id"`
	SettledAmount  int64        `json:"settled_amount"`
	RefundedAmount int64        `json:"refunded_amount"`
	HoldID         string       `json:"hold_id,omitempty"`
	HoldExpiresAt  *time.Time   `json:"hold_expires_at,omitempty"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`

	// Day and Month are the window keys (in the organisation's time zone)
	// the approved amount was counted under, so that a later reversal or
	// partial settlement gives back to the same windows.
	Day   string `json:"-"`
	Month string `json:"-"`

	// cardLast4 is the card's last four digits, noted when the decision
	// found the card, for the observation of it (never stored or shown).
	cardLast4 string
}

// Decision statuses and the approval lifecycle of a requires_approval one.
const (
	DecisionApproved         = "approved"
	DecisionBlocked          = "blocked"
	DecisionRequiresApproval = "requires_approval"
	DecisionReduced          = "reduced"

	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalDenied   = "denied"
	ApprovalExpired  = "expired"
	ApprovalExecuted = "executed"
)

// Decision kinds.
const (
	KindPolicyCheck    = "policy_check"
	KindIntentApproval = "intent_approval"
)

// Decision is one policy_check, or the approval request of an intent.
type Decision struct {
	ID                    string     `json:"id"`
	AgentID               string     `json:"agent_id"`
	Kind                  string     `json:"kind"`
	ActionType            string     `json:"action_type"`
	Amount                int64      `json:"amount"`
	Currency              string     `json:"currency"`
	Merchant              string     `json:"merchant,omitempty"`
	MCC                   string     `json:"mcc,omitempty"`
	AgentReason           string     `json:"agent_reason,omitempty"`
	Status                string     `json:"status"`
	Reason                string     `json:"reason"`
	RequiresHumanApproval bool       `json:"requires_human_approval"`
	AllowedAmount         *int64     `json:"allowed_amount"`
	PolicyChecks          []Check    `json:"policy_checks"`
	RiskScore             int        `json:"risk_score"`
	DryRun                bool       `json:"dry_run"`
	Paper                 bool       `json:"paper"`
	ApprovalStatus        string     `json:"approval_status,omitempty"`
	ApprovalExpiresAt     *time.Time `json:"approval_expires_at,omitempty"`
	DecidedBy             string     `json:"decided_by,omitempty"`
	DecidedAt             *time.Time `json:"decided_at,omitempty"`
	DecisionNote          string     `json:"decision_note,omitempty"`
	ExecutedAt            *time.Time `json:"executed_at,omitempty"`
	IntentID              string     `json:"intent_id,omitempty"`
	AuthorizationID       string     `json:"authorization_id,omitempty"`
	CreatedAt             time.Time  `json:"created_at"`
	UpdatedAt             time.Time  `json:"updated_at"`

	// Counted is the amount this decision added to the agent's windows
	// (zero when it added nothing) and Day/Month the windows it went to.
	Counted int64  `json:"-"`
	Day     string `json:"-"`
	Month   string `json:"-"`
}

// MarshalJSON adds "decision_id", the name policy_check results use (DESIGN
// §5), beside "id".
func (d Decision) MarshalJSON() ([]byte, error) {
	type plain Decision
	return json.Marshal(struct {
		plain
		DecisionID string `json:"decision_id"`
	}{plain(d), d.ID})
}

// Roles of API keys and of callers.
const (
	RoleAdmin  = "admin"
	RoleAgent  = "agent"
	RoleViewer = "viewer"
	// RoleNetwork is a card network or issuer adapter: it may authorize,
	// settle, reverse and refund charges, and nothing else.
	RoleNetwork = "network"
)

// APIKey is a stored API key. The secret itself is shown once, at creation;
// the store keeps only its SHA-256.
type APIKey struct {
	ID        string     `json:"id"`
	Role      string     `json:"role"`
	AgentID   string     `json:"agent_id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Hash      []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}
