package engine

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Error codes. Each face (CLI, MCP, HTTP) maps these once to its own kind of
// error; the decline codes double as the decline_code of an authorization.
const (
	// Generic application errors.
	CodeInvalidInput        = "INVALID_INPUT"        // a field is missing, malformed or out of range
	CodeNotFound            = "NOT_FOUND"            // no such object, or not visible to the caller
	CodeInvalidState        = "INVALID_STATE"        // the object is not in a state that allows this
	CodeConflict            = "CONFLICT"             // a unique name or similar is already taken
	CodeForbidden           = "FORBIDDEN"            // the caller's role may not do this
	CodeUnauthorized        = "UNAUTHORIZED"         // missing, unknown or revoked API key
	CodeIdempotencyConflict = "IDEMPOTENCY_CONFLICT" // idempotency key reused with other input
	CodeBusy                = "BUSY"                 // the database stayed locked past the busy timeout
	CodeUnavailable         = "UNAVAILABLE"          // the database could not commit; nothing was written: retry
	CodeInternal            = "INTERNAL"             // a bug or an I/O failure
	// CodeIssuerUnavailable: a real issuer (Stripe, Lithic) could not be
	// reached, timed out or failed (5xx, 429); a retry may succeed.
	CodeIssuerUnavailable = "ISSUER_UNAVAILABLE"
	// CodeIssuerRefused: a real issuer refused the request (4xx).
	CodeIssuerRefused = "ISSUER_REFUSED"

	// Decline codes (DESIGN §4), in the order the checks run.
	CodeCardNotFound          = "CARD_NOT_FOUND"
	CodeCardFrozen            = "CARD_FROZEN"
	CodeCardCancelled         = "CARD_CANCELLED"
	CodeExpiredCard           = "EXPIRED_CARD"
	CodeInvalidCVV            = "INVALID_CVV"
	CodeAgentDisabled         = "AGENT_DISABLED"
	CodeKYCRequired           = "KYC_REQUIRED"
	CodeCurrencyMismatch      = "CURRENCY_MISMATCH"
	CodeMerchantBlocked       = "MERCHANT_BLOCKED"
	CodeIntentRequired        = "INTENT_REQUIRED"
	CodeIntentExpired         = "INTENT_EXPIRED"
	CodeIntentMismatch        = "INTENT_MISMATCH"
	CodeSpendLimitExceeded    = "SPEND_LIMIT_EXCEEDED"
	CodeDailyLimitExceeded    = "DAILY_LIMIT_EXCEEDED"
	CodeCycleLimitExceeded    = "CYCLE_LIMIT_EXCEEDED"
	CodeLifetimeLimitExceeded = "LIFETIME_LIMIT_EXCEEDED"
	CodeVelocityExceeded      = "VELOCITY_EXCEEDED"
	CodeApprovalRequired      = "APPROVAL_REQUIRED"
	CodeSuspectedFraud        = "SUSPECTED_FRAUD"
	CodeInsufficientFunds     = "INSUFFICIENT_FUNDS"
)

// DeclineCodes lists every decline code an authorization can carry, in the
// order of the checks that produce them.
var DeclineCodes = []string{
	CodeCardNotFound, CodeCardFrozen, CodeCardCancelled, CodeExpiredCard, CodeInvalidCVV,
	CodeAgentDisabled, CodeKYCRequired,
	CodeCurrencyMismatch,
	CodeMerchantBlocked,
	CodeIntentRequired, CodeIntentExpired, CodeIntentMismatch,
	CodeSpendLimitExceeded, CodeDailyLimitExceeded, CodeCycleLimitExceeded, CodeLifetimeLimitExceeded, CodeVelocityExceeded,
	CodeApprovalRequired,
	CodeSuspectedFraud,
	CodeInsufficientFunds,
}

// Error is the engine's error: a machine-readable code, a message a person
// can act on and, for bad input, the name of the offending field.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalid returns an INVALID_INPUT error naming the field, as "field: problem".
// The problem often quotes the input: a card number in a string argument is
// masked (numbers are the engine's own, such as a limit).
func invalid(field, format string, args ...any) *Error {
	for i, a := range args {
		if s, ok := a.(string); ok && !isAnyID(s) {
			args[i] = maskSecrets(s)
		}
	}
	return &Error{Code: CodeInvalidInput, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// notFound returns a NOT_FOUND error naming what was looked up, the
// reference masked if it is shaped like a card number.
func notFound(field, what, ref string) *Error {
	if !isAnyID(ref) {
		ref = maskSecrets(ref)
	}
	return &Error{Code: CodeNotFound, Field: field, Message: fmt.Sprintf("%s: %s %q not found", field, what, ref)}
}

// IsAnyID reports whether s is one of the engine's own ids (card_…, key_…,
// …): their digits can look like a card number but are not secret, so a
// face masking a log line leaves them whole.
func IsAnyID(s string) bool { return isAnyID(s) }

// isAnyID reports whether s is one of the engine's own ids, whose digits
// can happen to look like a card number but are not secret.
func isAnyID(s string) bool {
	for _, p := range []string{PrefixUser, PrefixAgent, PrefixCard, PrefixIntent, PrefixAuthorization,
		PrefixDecision, PrefixKey, PrefixWebhook, PrefixEvent, PrefixTransfer, PrefixFallback, PrefixOAuthClient,
		PrefixOAuthGrant} {
		if isID(s, p) {
			return true
		}
	}
	return false
}

// keySecret is an API key's secret, as KeyPrefix and 64 hex digits make it,
// or an OAuth token's or client secret's, whose prefixes extend KeyPrefix.
var keySecret = regexp.MustCompile(regexp.QuoteMeta(KeyPrefix) + `(?:at_|rt_|ac_|cs_)?[0-9A-Fa-f]{8,}`)

// MaskSecrets masks card numbers and API key secrets in text: for a face's
// log lines, which may quote what a caller sent (a path, an id).
func MaskSecrets(s string) string { return maskSecrets(s) }

// maskSecrets masks card numbers and API key secrets in text an error
// quotes back: an operator who pastes a key's secret where its id belongs
// must not find it in the answer (and in every log on its way).
func maskSecrets(s string) string {
	// Keys first: a key's random hex may hold a run of digits that looks
	// like a card number, and masking that first would leave the rest of
	// the key unmatched, and shown.
	return MaskPANs(keySecret.ReplaceAllStringFunc(s, func(k string) string {
		digits := strings.LastIndexByte(k, '_') + 1 // a key's 8 first hex digits are its prefix, shown
		return k[:digits+8] + "…"
	}))
}

// ErrorCode returns the code of an engine error, or INTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the message of an engine error; other errors are
// internal and their text is not shown to callers.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// IsNotFound reports whether err is a NOT_FOUND engine error.
func IsNotFound(err error) bool { return ErrorCode(err) == CodeNotFound }
