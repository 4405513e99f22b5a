package mcp

import (
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// Instructions tell the model how to spend through agentledger.
const Instructions = `agentledger gives you virtual payment cards under a spending policy set by a human.

To pay for something with a card:
1. ledger_intent declare — say what you will buy: summary, amount (in MINOR units: 2500 = $25.00), and if you know them the merchant and card_id. Spends above the approval threshold wait for a human.
2. ledger_card details — get the card number, CVV and expiry. This fails with "Declare intent first" (INTENT_REQUIRED) until you have a pending intent for the card.
3. Pay at the merchant with those details. A charge is approved only if it matches the intent: same currency, at most intent_tolerance_pct (usually 10%) above the declared amount, at the declared merchant. One intent covers one charge; declare again for the next purchase.

For spends that are not card charges (API credits, transfers, trades), call policy_check before spending; it answers approved, blocked, reduced (spend allowed_amount instead) or requires_approval (wait; then policy_check execute with the decision_id once you have spent). Use dry_run to ask without it counting. policy_check limits shows what is left of each limit.

Amounts are always integers in minor units of the currency. Errors come back as {"error":{"code","message"}}; read the message, it says what to do.`

func boolPtr(b bool) *bool { return &b }

// annotations sets all four hints explicitly: mcp-go's defaults (destructive,
// open world) are right for no tool here.
func annotations(title string, readOnly, destructive, idempotent, openWorld bool) mcpgo.ToolAnnotation {
	return mcpgo.ToolAnnotation{Title: title, ReadOnlyHint: boolPtr(readOnly), DestructiveHint: boolPtr(destructive),
		IdempotentHint: boolPtr(idempotent), OpenWorldHint: boolPtr(openWorld)}
}

func cardTool() mcpgo.Tool {
	t := mcpgo.NewToolWithRawSchema("ledger_card",
		`Your virtual payment cards. Actions:
- create: issue a card (type single_use or multi_use, purpose, optional tighter limits).
- list: your cards. get: one card (card_id).
- details: the full card number, CVV and expiry for card_id — only after ledger_intent declare; uses your pending intent for the card (or intent_id).
- freeze / unfreeze: stop or resume a card (you may unfreeze only cards you froze). close: close a card for good.
- transactions: the charges on card_id, newest first.`,
		raw(schema{
			"type": "object",
			"properties": schema{
				"action":          enum("What to do.", "create", "list", "get", "details", "freeze", "unfreeze", "close", "transactions"),
				"card_id":         str("Card id (card_…). Required for get, details, freeze, unfreeze, close and transactions."),
				"intent_id":       str("details only: reveal for this intent (int_…). Default: your pending intent for the card."),
				"type":            enum("create only: single_use closes after its first approved charge; default multi_use.", "single_use", "multi_use"),
				"purpose":         schema{"type": "string", "maxLength": 200, "description": "create only: what the card is for."},
				"currency":        currencyArg,
				"limits":          limitsArg,
				"agent_id":        agentIDArg,
				"idempotency_key": idemArg,
			},
			"required":             []string{"action"},
			"additionalProperties": false,
		}))
	t.Title = "Payment cards"
	t.RawOutputSchema = outputOf(cardOut, detailsOut,
		object(schema{"cards": arrayOf(cardOut, "")}, "cards"),
		object(schema{"transactions": arrayOf(authorizationOut, "")}, "transactions"))
	// Not read-only (it issues, reveals, freezes and closes cards); close is
	// destructive and create is not idempotent; it touches only the ledger.
	t.Annotations = annotations("Payment cards", false, true, false, false)
	return t
}

func intentTool() mcpgo.Tool {
	t := mcpgo.NewToolWithRawSchema("ledger_intent",
		`Declare what you are about to buy before paying with a card. Actions:
- declare: summary (what and why), amount (minor units: 9999 = $99.99), and optionally card_id, currency, merchant, mcc, expires_in_seconds. Returns the intent; status pending, or awaiting_approval when a human must approve first.
- get: one intent (intent_id). list: your intents.
- cancel: withdraw an unused intent (intent_id).`,
		raw(schema{
			"type": "object",
			"properties": schema{
				"action":             enum("What to do.", "declare", "get", "list", "cancel"),
				"summary":            schema{"type": "string", "maxLength": 1000, "description": "declare: what you will buy and why, e.g. \"USB-C cable for the office printer\"."},
				"amount":             amountArg,
				"currency":           currencyArg,
				"card_id":            str("declare: the card you will pay with (card_…); optional, any of your cards otherwise."),
				"merchant":           merchantArg,
				"mcc":                mccArg,
				"expires_in_seconds": integer("declare: a shorter life than your policy's intent TTL (default 900).", 10),
				"intent_id":          str("get and cancel: the intent (int_…)."),
				"agent_id":           agentIDArg,
				"idempotency_key":    idemArg,
			},
			"required":             []string{"action"},
			"additionalProperties": false,
		}))
	t.Title = "Purchase intents"
	t.RawOutputSchema = outputOf(intentOut, object(schema{"intents": arrayOf(intentOut, "")}, "intents"))
	// Declaring and cancelling change state but destroy nothing; declaring
	// twice makes two intents.
	t.Annotations = annotations("Purchase intents", false, false, false, false)
	return t
}

func policyTool() mcpgo.Tool {
	t := mcpgo.NewToolWithRawSchema("policy_check",
		`Ask whether a spend is allowed under your policy — for spends that are not card charges (API credits, transfers, trades) or as a pre-flight before one. Actions:
- check (default): action_type, amount (minor units), currency, reason, optional merchant, mcc, dry_run. Answers approved, blocked, reduced (allowed_amount is what you may spend) or requires_approval, with every rule checked. Approved and reduced spends count toward your limits unless dry_run.
- status: a decision again (decision_id), e.g. to see whether a human approved it.
- execute: record that you made an approved requires_approval spend (decision_id).
- limits: your effective policy and what is left of each limit.`,
		raw(schema{
			"type": "object",
			"properties": schema{
				"action":          enum("What to do (default check).", "check", "status", "execute", "limits"),
				"action_type":     schema{"type": "string", "maxLength": 100, "description": "check: the kind of spend: purchase, payment, transfer, trade, api_spend or your own word (default purchase)."},
				"amount":          amountArg,
				"currency":        currencyArg,
				"reason":          schema{"type": "string", "maxLength": 1000, "description": "check: why you want to spend; kept for the audit."},
				"merchant":        merchantArg,
				"mcc":             mccArg,
				"dry_run":         boolean("check: decide without counting the spend or queueing an approval."),
				"decision_id":     str("status and execute: the decision (dec_…)."),
				"agent_id":        agentIDArg,
				"idempotency_key": idemArg,
			},
			"additionalProperties": false,
		}))
	t.Title = "Policy check"
	t.RawOutputSchema = outputOf(decisionOut, limitsOut)
	// A check records a decision that counts toward the limits: not
	// read-only, not idempotent, not destructive; it touches only the ledger.
	t.Annotations = annotations("Policy check", false, false, false, false)
	return t
}
