package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/httperr"
	"github.com/agentledger/agentledger/engine"
	"github.com/danielgtaylor/huma/v2"
)

// apiError is every error answer: httperr's one shape, with its status.
type apiError struct {
	status int
	httperr.Body
}

func (e *apiError) Error() string  { return e.Body.Error.Message }
func (e *apiError) GetStatus() int { return e.status }

// The error shape replaces huma's problem details everywhere: in answers
// and in the OpenAPI document.
func init() {
	huma.NewError = newError
	huma.NewErrorWithContext = func(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
		return newError(status, msg, errs...)
	}
}

// newError turns what huma reports (a body that does not validate, one too
// large, a handler's engine error) into the error shape.
func newError(status int, msg string, errs ...error) huma.StatusError {
	for _, err := range errs {
		var e *engine.Error
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &e):
			s, body := httperr.From(e)
			return &apiError{status: s, Body: body}
		case errors.As(err, &tooLarge):
			status = http.StatusRequestEntityTooLarge
		}
	}
	code := engine.CodeInternal
	switch {
	case status == http.StatusRequestEntityTooLarge:
		code = "TOO_LARGE"
	case status == http.StatusUnprocessableEntity, status == http.StatusBadRequest:
		// A body or parameter that does not fit the schema is bad input,
		// as the engine's own checks are.
		status, code = http.StatusBadRequest, engine.CodeInvalidInput
	case status == http.StatusNotFound:
		code = engine.CodeNotFound
	case status == http.StatusNotAcceptable, status == http.StatusUnsupportedMediaType:
		code = engine.CodeInvalidInput
		if status == http.StatusUnsupportedMediaType {
			msg = "send the body as JSON, with Content-Type: application/json"
			errs = nil
		}
	case status >= 500 || status == 0:
		return &apiError{status: http.StatusInternalServerError,
			Body: httperr.Body{Error: httperr.Detail{Code: engine.CodeInternal, Message: "Internal error."}}}
	}
	d := httperr.Detail{Code: code, Message: msg}
	for _, err := range errs {
		var detail *huma.ErrorDetail
		if !errors.As(err, &detail) {
			continue
		}
		field := fieldName(detail.Location, detail.Message)
		d.Field, d.Message = field, detail.Message
		if field != "" {
			d.Message = field + ": " + detail.Message
		}
		break
	}
	if d.Message == "" {
		d.Message = http.StatusText(status)
	}
	return &apiError{status: status, Body: httperr.Body{Error: d}}
}

// missingProperty is how huma says a required field was left out.
var missingProperty = regexp.MustCompile(`^expected required property (\S+) to be present`)

// fieldName turns huma's location ("body.policy.daily_limit",
// "query.limit", "header.Idempotency-Key") into the field's name; for a
// missing field, huma names the field in the message and its parent in
// the location.
func fieldName(location, message string) string {
	field := location
	for _, prefix := range []string{"body", "query.", "path.", "header."} {
		if rest, ok := strings.CutPrefix(location, prefix); ok {
			field = strings.TrimPrefix(rest, ".")
			break
		}
	}
	if m := missingProperty.FindStringSubmatch(message); m != nil {
		if field == "" {
			return m[1]
		}
		return field + "." + m[1]
	}
	return field
}

// fail maps a handler's error, logging one that is internal.
func (h *Handler) fail(ctx context.Context, err error) error {
	h.logInternal(ctx, err)
	var e *engine.Error
	if errors.As(err, &e) {
		s, body := httperr.From(e)
		return &apiError{status: s, Body: body}
	}
	return newError(http.StatusInternalServerError, "")
}
