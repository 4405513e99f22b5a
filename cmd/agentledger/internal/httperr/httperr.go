// Package httperr is the one error shape of agentledger's HTTP endpoints
// (the REST API, the issuer endpoints) and the one mapping of engine error
// codes to HTTP statuses.
package httperr

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/agentledger/agentledger/engine"
)

// CodeRateLimited answers a key that sent more requests than its rate limit.
const CodeRateLimited = "RATE_LIMITED"

// Body is the JSON error shape: {"error":{"code","message","field"}}.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is what went wrong: the engine's code and message and, for bad
// input, the offending field.
type Detail struct {
	Code    string `json:"code" doc:"A machine-readable code: the engine's error or decline code." example:"INVALID_INPUT"`
	Message string `json:"message" doc:"What went wrong, for a person." example:"amount: must be a positive amount in minor units"`
	Field   string `json:"field,omitempty" doc:"The request field at fault, for bad input." example:"amount"`
}

// Status maps an engine error code to its HTTP status, once for every face
// that speaks HTTP.
func Status(code string) int {
	switch code {
	case engine.CodeInvalidInput:
		return http.StatusBadRequest
	case engine.CodeUnauthorized:
		return http.StatusUnauthorized
	case engine.CodeForbidden:
		return http.StatusForbidden
	case engine.CodeNotFound, engine.CodeCardNotFound:
		return http.StatusNotFound
	case engine.CodeConflict, engine.CodeIdempotencyConflict, engine.CodeInvalidState:
		return http.StatusConflict
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case engine.CodeIssuerRefused:
		return http.StatusBadGateway
	case engine.CodeBusy, engine.CodeUnavailable, engine.CodeIssuerUnavailable:
		return http.StatusServiceUnavailable
	case engine.CodeInternal, "":
		return http.StatusInternalServerError
	}
	if slices.Contains(engine.DeclineCodes, code) {
		// Well-formed, but the rules of money refuse it (KYC_REQUIRED,
		// INTENT_REQUIRED, …).
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// From returns the status and body of an error; an error that is not the
// engine's is internal and its text is not shown.
func From(err error) (int, Body) {
	b := Body{Error: Detail{Code: engine.ErrorCode(err), Message: engine.ErrorMessage(err)}}
	var e *engine.Error
	if errors.As(err, &e) {
		b.Error.Field = e.Field
	}
	return Status(b.Error.Code), b
}

// Write writes an error body with its status.
func Write(w http.ResponseWriter, status int, code, message, field string) {
	WriteJSON(w, status, Body{Error: Detail{Code: code, Message: message, Field: field}})
}

// WriteEngine writes an engine error with the status its code maps to.
func WriteEngine(w http.ResponseWriter, err error) {
	status, body := From(err)
	WriteJSON(w, status, body)
}

// WriteJSON writes v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
