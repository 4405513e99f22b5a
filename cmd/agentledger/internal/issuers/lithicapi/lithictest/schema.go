package lithictest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The request bodies' schemas, from the reference's POST /v1/cards and
// PATCH /v1/cards/{card_token}. Nested objects (carrier, shipping_address)
// are checked to be objects, not field by field.

type kind int

const (
	kString kind = iota
	kInteger
	kObject
	kUUID
)

type field struct {
	kind     kind
	enum     []string
	length   int    // exact length of a string, when not 0
	minimum  *int64 // least integer, when set
	required bool
}

var (
	zero         = int64(0)
	cardTypes    = []string{"MERCHANT_LOCKED", "PHYSICAL", "SINGLE_USE", "VIRTUAL", "UNLOCKED", "DIGITAL_WALLET"}
	durations    = []string{"ANNUALLY", "FOREVER", "MONTHLY", "TRANSACTION"}
	substatuses  = []string{"LOST", "COMPROMISED", "DAMAGED", "END_USER_REQUEST", "ISSUER_REQUEST", "NOT_ACTIVE", "SUSPICIOUS_ACTIVITY", "INTERNAL_REVIEW", "EXPIRED", "UNDELIVERABLE", "OTHER"}
	shipping     = []string{"2_DAY", "BULK", "EXPEDITED", "EXPRESS", "PRIORITY", "STANDARD", "STANDARD_WITH_TRACKING"}
	createSchema = map[string]field{
		"account_token":             {kind: kUUID},
		"card_program_token":        {kind: kUUID},
		"bulk_order_token":          {kind: kUUID},
		"carrier":                   {kind: kObject},
		"digital_card_art_token":    {kind: kUUID},
		"exp_month":                 {kind: kString, length: 2},
		"exp_year":                  {kind: kString, length: 4},
		"memo":                      {kind: kString},
		"pin":                       {kind: kString},
		"product_id":                {kind: kString},
		"replacement_for":           {kind: kUUID},
		"replacement_substatus":     {kind: kString, enum: substatuses},
		"replacement_comment":       {kind: kString},
		"replacement_account_token": {kind: kUUID},
		"shipping_address":          {kind: kObject},
		"shipping_method":           {kind: kString, enum: shipping},
		"spend_limit":               {kind: kInteger, minimum: &zero},
		"spend_limit_duration":      {kind: kString, enum: durations},
		"state":                     {kind: kString, enum: []string{"OPEN", "PAUSED"}},
		"type":                      {kind: kString, enum: cardTypes, required: true},
	}
	updateSchema = map[string]field{
		"digital_card_art_token": {kind: kUUID},
		"memo":                   {kind: kString},
		"network_program_token":  {kind: kUUID},
		"pin":                    {kind: kString},
		"pin_status":             {kind: kString, enum: []string{"OK"}},
		"spend_limit":            {kind: kInteger},
		"spend_limit_duration":   {kind: kString, enum: durations},
		"state":                  {kind: kString, enum: []string{"CLOSED", "OPEN", "PAUSED"}},
		"substatus":              {kind: kString, enum: substatuses},
		"comment":                {kind: kString},
	}
)

// validate decodes a JSON object body and checks it against schema: no
// unknown field, every value of its type and enum, every required field
// there. Integers come back as int64. The message is "" when it passes.
func validate(body []byte, schema map[string]field) (map[string]any, string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, "request body is required"
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, "request body is not valid JSON"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "request body must be a JSON object"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, known := schema[k]
		if !known {
			return nil, fmt.Sprintf("%s: unknown field", k)
		}
		x, msg := check(k, m[k], f)
		if msg != "" {
			return nil, msg
		}
		m[k] = x
	}
	for k, f := range schema {
		if _, ok := m[k]; f.required && !ok {
			return nil, fmt.Sprintf("%s: is required", k)
		}
	}
	return m, ""
}

func check(name string, v any, f field) (any, string) {
	switch f.kind {
	case kString, kUUID:
		s, ok := v.(string)
		switch {
		case !ok:
			return nil, name + ": must be a string"
		case f.kind == kUUID && !isUUID(s):
			return nil, name + ": must be a valid UUID"
		case f.length != 0 && len(s) != f.length:
			return nil, fmt.Sprintf("%s: must be %d characters", name, f.length)
		case f.enum != nil && !slices.Contains(f.enum, s):
			return nil, fmt.Sprintf("%s: must be one of %s", name, strings.Join(f.enum, ", "))
		}
		return s, ""
	case kInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, name + ": must be an integer"
		}
		i, err := n.Int64()
		if err != nil {
			return nil, name + ": must be an integer"
		}
		if f.minimum != nil && i < *f.minimum {
			return nil, fmt.Sprintf("%s: must be at least %d", name, *f.minimum)
		}
		return i, ""
	case kObject:
		if _, ok := v.(map[string]any); !ok {
			return nil, name + ": must be an object"
		}
		return v, ""
	}
	return nil, name + ": unsupported"
}
