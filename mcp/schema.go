package mcp

import "encoding/json"

// schema is a JSON Schema document under construction.
type schema = map[string]any

func object(props schema, required ...string) schema {
	s := schema{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func str(desc string) schema { return schema{"type": "string", "description": desc} }

func enum(desc string, values ...string) schema {
	return schema{"type": "string", "enum": values, "description": desc}
}

func integer(desc string, min int64) schema {
	return schema{"type": "integer", "minimum": min, "description": desc}
}

func boolean(desc string) schema { return schema{"type": "boolean", "description": desc} }

func arrayOf(items schema, desc string) schema {
	return schema{"type": "array", "items": items, "description": desc}
}

// nullable allows null besides s. It is spelled anyOf with one type per
// branch, not "type": [..., "null"]: clients that map tool schemas onto a
// single-type dialect (the OpenAPI subset of Gemini's function
// declarations) reject a type array or drop its constraints.
func nullable(s schema) schema {
	branch := schema{}
	for k, v := range s {
		if k != "description" {
			branch[k] = v
		}
	}
	n := schema{"anyOf": []schema{branch, {"type": "null"}}}
	if d, ok := s["description"]; ok && d != "" {
		n["description"] = d
	}
	return n
}

func raw(s schema) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic("mcp: schema does not encode: " + err.Error())
	}
	return b
}

// Argument schemas shared by the tools. Every amount is in minor units,
// and the descriptions say so with an example, since models default to
// dollars.
var (
	amountArg   = integer("Amount in minor units of the currency (cents for USD): 9999 means $99.99, 500 JPY means ¥500.", 1)
	currencyArg = schema{"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "ISO 4217 currency code, e.g. USD (default: the card's or your policy's currency)."}
	merchantArg = schema{"type": "string", "maxLength": 200, "description": "Merchant name as it will appear on the charge, e.g. \"Amazon\"."}
	mccArg      = schema{"type": "string", "pattern": "^[0-9]{4}$", "description": "4-digit merchant category code, e.g. 5942 for book stores."}
	cardIDArg   = str("Card id (card_…).")
	intentIDArg = str("Intent id (int_…).")
	agentIDArg  = str("Only with an admin or viewer key: the agent to act as (agt_… id or name). Agent keys act as their own agent and omit it.")
	idemArg     = schema{"type": "string", "maxLength": 255, "description": "Optional. The same key with the same arguments returns the first result instead of acting twice; use one per intended action when retrying."}
)

// limitsArg is a card's own limits at creation.
var limitsArg = schema{
	"type":        "object",
	"description": "The card's own limits, tighter than (never looser than) your policy. Amounts in minor units.",
	"properties": schema{
		"per_transaction_limit":    integer("Largest single charge, minor units.", 1),
		"daily_limit":              integer("Spend per calendar day, minor units.", 1),
		"monthly_limit":            integer("Spend per calendar month, minor units.", 1),
		"lifetime_limit":           integer("Spend ever on this card, minor units.", 1),
		"max_transactions_per_day": integer("Approved charges per day.", 1),
		"allowed_mccs":             arrayOf(mccArg, "Only these merchant category codes."),
		"blocked_mccs":             arrayOf(mccArg, "Never these merchant category codes."),
		"allowed_merchants":        arrayOf(str("Merchant name or id."), "Only these merchants."),
		"blocked_merchants":        arrayOf(str("Merchant name or id."), "Never these merchants."),
	},
	"additionalProperties": false,
}

// Output object schemas.
var (
	errorOut = object(schema{"error": object(schema{
		"code":    str("Machine-readable error code, e.g. INTENT_REQUIRED."),
		"message": str("What went wrong and what to do."),
	}, "code", "message")}, "error")

	cardOut = object(schema{
		"id": str("card_…"), "agent_id": str("agt_…"),
		"type":      enum("", "single_use", "multi_use"),
		"status":    enum("", "active", "frozen", "closed"),
		"last4":     str("Last four digits; the full number only comes from details."),
		"exp_month": integer("", 1), "exp_year": integer("", 2000),
		"currency": str(""), "purpose": str(""), "limits": schema{"type": "object"},
		"frozen_by": str(""), "created_at": str("RFC 3339"),
		"issuer":         enum("The real issuer the card is at; absent for a sandbox card.", "stripe", "lithic"),
		"issuer_card_id": str("The issuer's card id."),
		"issuer_sync":    str("After a change: synced, or pending: why (the issuer is told later)."),
	}, "id", "agent_id", "type", "status", "last4", "currency")

	detailsOut = object(schema{
		"card_id": str(""), "pan": str("Full card number."), "cvv": str(""),
		"exp_month": integer("", 1), "exp_year": integer("", 2000),
		"intent_id": str("The intent this reveal is for."), "expires_at": str("When the intent (and so this reveal) lapses, RFC 3339."),
	}, "card_id", "pan", "cvv", "exp_month", "exp_year", "intent_id", "expires_at")

	intentOut = object(schema{
		"id": str("int_…"), "agent_id": str(""), "card_id": str(""), "summary": str(""),
		"amount": integer("Minor units.", 1), "currency": str(""), "merchant": str(""), "mcc": str(""),
		"status":      enum("", "awaiting_approval", "pending", "revealed", "matched", "mismatched", "denied", "cancelled", "expired"),
		"expires_at":  str("RFC 3339"),
		"decision_id": str("The approval request, when one was needed."),
	}, "id", "agent_id", "summary", "amount", "currency", "status", "expires_at")

	authorizationOut = object(schema{
		"id": str("txn_…"), "status": enum("", "approved", "declined", "settled", "reversed", "expired"),
		"decline_code": str(""), "reason": str(""), "amount": integer("Minor units.", 1), "currency": str(""),
		"merchant": schema{"type": "object"}, "card_id": str(""), "intent_id": str(""), "risk_score": integer("", 0),
	}, "id", "status", "amount", "currency")

	checkOut = object(schema{
		"rule": str(""), "result": enum("", "pass", "fail", "skip"), "message": str(""),
	}, "rule", "result", "message")

	decisionOut = object(schema{
		"decision_id":             str("dec_…"),
		"status":                  enum("", "approved", "blocked", "requires_approval", "reduced"),
		"reason":                  str(""),
		"requires_human_approval": boolean(""),
		"allowed_amount":          nullable(integer("Minor units; set when reduced.", 1)),
		"policy_checks":           arrayOf(checkOut, ""),
		"approval_status":         enum("", "pending", "approved", "denied", "expired", "executed"),
	}, "decision_id", "status", "reason", "requires_human_approval", "allowed_amount", "policy_checks")

	windowOut = object(schema{
		"limit": nullable(integer("", 0)), "spent": integer("", 0), "remaining": nullable(integer("", 0)),
	})

	limitsOut = object(schema{
		"agent_id": str(""), "mode": str(""), "currency": str(""), "policy": schema{"type": "object"},
		"per_transaction_limit": nullable(integer("", 1)),
		"daily":                 windowOut, "monthly": windowOut, "lifetime": windowOut,
		"transactions_today": schema{"type": "object"}, "velocity": nullable(schema{"type": "object"}),
		"available": integer("Money the agent can still spend, minor units.", 0),
	}, "agent_id", "currency", "daily", "monthly", "lifetime", "available")
)

// outputOf builds a tool's output schema: an object that is one of the shapes
// its actions return, or the error shape of a business failure.
func outputOf(shapes ...schema) json.RawMessage {
	return raw(schema{"type": "object", "anyOf": append(shapes, errorOut)})
}
