package metrics

import (
	"slices"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

// other stands for any value outside a label's known set.
const other = "other"

// Outcomes of a webhook delivery attempt.
const (
	outcomeDelivered = "delivered"
	outcomeRetry     = "retry"
	outcomeFailed    = "failed"
)

// checkStatuses are a policy check's statuses.
var checkStatuses = []string{engine.DecisionApproved, engine.DecisionBlocked, engine.DecisionRequiresApproval,
	engine.DecisionReduced}

// decisionStatuses are what a decision can say: an authorization's
// statuses and a check's.
var decisionStatuses = set(append([]string{engine.AuthApproved, engine.AuthDeclined, engine.AuthSettled,
	engine.AuthReversed, engine.AuthExpired}, checkStatuses...)...)

// checkRules are the rules a policy check runs, one of which names its
// decline code when it fails.
var checkRules = []string{"agent_mode", "currency", "action_type", "mcc", "merchant", "per_transaction_limit",
	"daily_limit", "monthly_limit", "lifetime_limit", "max_transactions_per_day", "velocity", "approval_threshold",
	"risk", "funds"}

// declineCodes are the decline codes of authorizations and the rules of
// checks.
var declineCodes = set(append(slices.Clone(engine.DeclineCodes), checkRules...)...)

// declineCode is the decline_code label: none when nothing was declined.
func declineCode(code string) string {
	if code == "" {
		return "none"
	}
	return known(code, declineCodes)
}

// resultCodes are the codes a failed tool call can carry: the engine's
// error codes and decline codes, and ERROR for a result without one.
var resultCodes = set(append([]string{engine.CodeInvalidInput, engine.CodeNotFound, engine.CodeInvalidState,
	engine.CodeConflict, engine.CodeForbidden, engine.CodeUnauthorized, engine.CodeIdempotencyConflict,
	engine.CodeBusy, engine.CodeUnavailable, engine.CodeInternal, engine.CodeIssuerUnavailable,
	engine.CodeIssuerRefused, "ERROR"}, engine.DeclineCodes...)...)

// toolActions are the MCP tools and the actions of each.
var toolActions = map[string][]string{
	"ledger_card":   {"create", "list", "get", "details", "freeze", "unfreeze", "close", "transactions"},
	"ledger_intent": {"declare", "get", "list", "cancel"},
	"policy_check":  {"check", "status", "execute", "limits"},
	"noop":          {},
}

// methods are the HTTP methods a label names; others are "other".
var methods = set("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

// Face names the face of agentledger's HTTP server a path belongs to: mcp,
// network, issuer, rest (/v1), capped (/api), health, metrics, or
// dashboard for the rest.
func Face(path string) string {
	under := func(prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }
	switch {
	case under("/mcp"):
		return "mcp"
	case under("/v1/network"):
		return "network"
	case under("/v1/issuers"):
		return "issuer"
	case under("/v1"):
		return "rest"
	case under("/api"):
		return "capped"
	case path == "/healthz":
		return "health"
	case path == "/metrics":
		return "metrics"
	}
	return "dashboard"
}

// statusClass is 1xx to 5xx, or other.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return other
	}
	return string(rune('0'+status/100)) + "xx"
}

func set(values ...string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

// known returns v when the set has it, else other.
func known[V any](v string, values map[string]V) string {
	if _, ok := values[v]; ok {
		return v
	}
	return other
}

// oneOf returns v when it is one of values, else other.
func oneOf(v string, values ...string) string {
	if slices.Contains(values, v) {
		return v
	}
	return other
}
