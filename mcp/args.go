package mcp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/agentledger/agentledger/engine"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// args are a tool call's arguments, read strictly: an unknown name or a
// value of the wrong type is an INVALID_INPUT error naming the argument, so
// that the model can correct itself.
type args struct {
	raw map[string]json.RawMessage
}

func badArg(name, format string, a ...any) *engine.Error {
	return &engine.Error{Code: engine.CodeInvalidInput, Field: name, Message: name + ": " + fmt.Sprintf(format, a...)}
}

// parseArgs reads the arguments of a call, refusing names the tool does not
// take.
func parseArgs(req mcpgo.CallToolRequest, allowed []string) (*args, error) {
	a := &args{raw: map[string]json.RawMessage{}}
	rawArgs := req.Params.RawArguments // the wire bytes, when the call came over a transport
	if len(rawArgs) == 0 && req.Params.Arguments != nil {
		var err error
		if rawArgs, err = json.Marshal(req.Params.Arguments); err != nil {
			return nil, badArg("arguments", "must be a JSON object")
		}
	}
	if len(rawArgs) == 0 || bytes.Equal(bytes.TrimSpace(rawArgs), []byte("null")) {
		return a, nil
	}
	if err := json.Unmarshal(rawArgs, &a.raw); err != nil {
		return nil, badArg("arguments", "must be a JSON object")
	}
	var unknown []string
	for name := range a.raw {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, badArg(unknown[0], "is not an argument of %s; it takes %s", req.Params.Name, strings.Join(allowed, ", "))
	}
	for name, v := range a.raw {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(a.raw, name) // null means absent
		}
	}
	return a, nil
}

func (a *args) has(name string) bool { _, ok := a.raw[name]; return ok }

// str reads an optional string.
func (a *args) str(name string) (string, error) {
	v, ok := a.raw[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", badArg(name, "must be a string")
	}
	return s, nil
}

// required reads a string that must be present for the action.
func (a *args) required(name, action string) (string, error) {
	s, err := a.str(name)
	if err == nil && strings.TrimSpace(s) == "" {
		return "", badArg(name, "is required for %s", action)
	}
	return s, err
}

// integer reads an optional integer; whole-valued floats (2500.0) are
// accepted, fractions are not (amounts are minor units).
func (a *args) integer(name string) (int64, bool, error) {
	v, ok := a.raw[name]
	if !ok {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		return 0, false, badArg(name, "must be an integer, got %s", describe(v))
	}
	if f != math.Trunc(f) || math.Abs(f) > 1e15 {
		if name == "amount" {
			return 0, false, badArg(name, "must be a whole number of minor units (2500 for $25.00), got %s", describe(v))
		}
		return 0, false, badArg(name, "must be an integer, got %s", describe(v))
	}
	return int64(f), true, nil
}

// amount reads a required amount in minor units.
func (a *args) amount(action string) (int64, error) {
	v, ok, err := a.integer("amount")
	if err == nil && !ok {
		return 0, badArg("amount", "is required for %s (minor units: 2500 for $25.00)", action)
	}
	return v, err
}

func (a *args) boolean(name string) (bool, error) {
	v, ok := a.raw[name]
	if !ok {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, badArg(name, "must be true or false, got %s", describe(v))
	}
	return b, nil
}

// limits reads a card's own limits object.
func (a *args) limits(name string) (engine.SpendLimits, error) {
	var l engine.SpendLimits
	v, ok := a.raw[name]
	if !ok {
		return l, nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, badArg(name, "must be an object of per_transaction_limit, daily_limit, monthly_limit, lifetime_limit, "+
			"max_transactions_per_day (integers) and allowed_mccs, blocked_mccs, allowed_merchants, blocked_merchants (lists of strings): %s", err)
	}
	return l, nil
}

// describe names a JSON value's kind for error messages.
func describe(v json.RawMessage) string {
	s := strings.TrimSpace(string(v))
	switch {
	case s == "":
		return "nothing"
	case s[0] == '"':
		return "a string " + s
	case s[0] == '{':
		return "an object"
	case s[0] == '[':
		return "a list"
	case s == "true" || s == "false":
		return "a boolean"
	}
	return s
}

// action reads the action argument against the tool's actions.
func (a *args) action(fallback string, actions ...string) (string, error) {
	s, err := a.str("action")
	if err != nil {
		return "", err
	}
	if s == "" {
		s = fallback
	}
	if s == "" {
		return "", badArg("action", "is required: one of %s", strings.Join(actions, ", "))
	}
	if !slices.Contains(actions, s) {
		return "", badArg("action", "must be one of %s, got %q", strings.Join(actions, ", "), s)
	}
	return s, nil
}
