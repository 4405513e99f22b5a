package engine_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventTypes returns the types of every event so far, oldest first.
func eventTypes(t *testing.T, env *sqlitetest.Env) []string {
	t.Helper()
	events, err := items(env.Engine.ListEvents(env.Ctx, engine.Operator, engine.ListEventsInput{}))
	require.NoError(t, err)
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		out = append(out, events[i].Type)
	}
	return out
}

// since returns what was added to list after the first n entries.
func since(list []string, n int) []string {
	if len(list) == n {
		return nil
	}
	return slices.Clone(list[n:])
}

func TestEveryChangeEmitsItsEvent(t *testing.T) {
	env := sqlitetest.New(t)
	e, op, ctx := env.Engine, engine.Operator, env.Ctx
	step := func(name string, want []string, do func()) {
		t.Helper()
		before := len(eventTypes(t, env))
		do()
		assert.Equal(t, want, since(eventTypes(t, env), before), name)
	}

	var user *engine.User
	step("user create and approve", []string{engine.EventUserApproved}, func() {
		var err error
		user, err = e.CreateUser(ctx, op, engine.CreateUserInput{Name: "ada"})
		require.NoError(t, err)
		_, err = e.SetKYC(ctx, op, engine.SetKYCInput{User: user.ID, Status: engine.KYCApproved})
		require.NoError(t, err)
		_, err = e.SetKYC(ctx, op, engine.SetKYCInput{User: user.ID, Status: engine.KYCApproved}) // no change, no event
		require.NoError(t, err)
	})
	step("fund", []string{engine.EventAccountFunded}, func() {
		_, err := e.FundUser(ctx, op, engine.FundInput{User: user.ID, Amount: 100_00})
		require.NoError(t, err)
	})
	agent := env.Agent("bot", user, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](50_00)}})
	step("paper fund", []string{engine.EventAccountFunded}, func() {
		_, err := e.FundPaper(ctx, op, engine.FundPaperInput{Agent: agent.ID, Amount: 10_00})
		require.NoError(t, err)
	})
	var card *engine.Card
	step("card", []string{engine.EventCardCreated}, func() { card = env.Card(agent) })
	step("declare and reveal", []string{engine.EventIntentDeclared, engine.EventIntentRevealed}, func() {
		env.Reveal(agent, card, 20_00, "Acme")
	})
	var auth *engine.Authorization
	step("matching charge", []string{engine.EventTransactionAuthorized, engine.EventIntentMatched}, func() {
		auth = env.Charge(card, 20_00, "Acme", "")
		require.Equal(t, engine.AuthApproved, auth.Status)
	})
	step("settle and refund", []string{engine.EventTransactionSettled, engine.EventTransactionRefunded}, func() {
		_, err := e.Settle(ctx, op, engine.SettleInput{AuthorizationID: auth.ID})
		require.NoError(t, err)
		_, err = e.Refund(ctx, op, engine.RefundInput{AuthorizationID: auth.ID, Amount: sqlitetest.Ptr[int64](5_00)})
		require.NoError(t, err)
	})
	step("mismatching charge", []string{engine.EventIntentDeclared, engine.EventIntentRevealed, engine.EventTransactionAuthorized, engine.EventIntentMismatched}, func() {
		env.Reveal(agent, card, 10_00, "Acme")
		a := env.Charge(card, 10_00, "Other Shop", "")
		require.Equal(t, engine.CodeIntentMismatch, a.DeclineCode)
	})
	step("a charge over the daily limit", []string{engine.EventIntentDeclared, engine.EventIntentRevealed, engine.EventTransactionAuthorized, engine.EventLimitExceeded}, func() {
		env.Reveal(agent, card, 40_00, "Acme")
		a := env.Charge(card, 40_00, "Acme", "")
		require.Equal(t, engine.CodeDailyLimitExceeded, a.DeclineCode)
	})
	step("reverse", []string{engine.EventTransactionAuthorized, engine.EventIntentMatched, engine.EventTransactionReversed}, func() {
		a := env.Charge(card, 1_00, "Acme", "") // the revealed $40 intent covers it
		require.Equal(t, engine.AuthApproved, a.Status)
		_, err := e.Reverse(ctx, op, engine.ReverseInput{AuthorizationID: a.ID})
		require.NoError(t, err)
	})
	env.Reveal(agent, card, 1_00, "Acme")
	step("freeze, unfreeze, close", []string{engine.EventCardFrozen, engine.EventCardUnfrozen, engine.EventCardClosed, engine.EventIntentCancelled}, func() {
		_, err := e.FreezeCard(ctx, op, engine.CardActionInput{CardID: card.ID})
		require.NoError(t, err)
		_, err = e.FreezeCard(ctx, op, engine.CardActionInput{CardID: card.ID}) // already frozen: no event
		require.NoError(t, err)
		_, err = e.UnfreezeCard(ctx, op, engine.CardActionInput{CardID: card.ID})
		require.NoError(t, err)
		_, err = e.CloseCard(ctx, op, engine.CardActionInput{CardID: card.ID})
		require.NoError(t, err)
	})
	single, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID, Type: engine.CardSingleUse})
	require.NoError(t, err)
	env.Reveal(agent, single, 2_00, "Acme")
	step("a single-use card closes on its charge", []string{engine.EventTransactionAuthorized, engine.EventIntentMatched, engine.EventCardClosed}, func() {
		require.Equal(t, engine.AuthApproved, env.Charge(single, 2_00, "Acme", "").Status)
	})
	step("an unknown card is still an authorization", []string{engine.EventTransactionAuthorized}, func() {
		a, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: "card_nope", Amount: 100, Merchant: engine.Merchant{Name: "X"}})
		require.NoError(t, err)
		require.Equal(t, engine.CodeCardNotFound, a.DeclineCode)
	})
	step("a failed call emits nothing", nil, func() {
		_, err := e.Settle(ctx, op, engine.SettleInput{AuthorizationID: auth.ID})
		require.Error(t, err)
	})
}

func TestApprovalsAndExpiriesEmitEvents(t *testing.T) {
	env := sqlitetest.New(t)
	e, op, ctx := env.Engine, engine.Operator, env.Ctx
	_, agent, card := env.Setup(100_00, engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](10_00)})
	actor := sqlitetest.AgentActor(agent)
	n := len(eventTypes(t, env))

	big, err := e.DeclareIntent(ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "a big one", Amount: 50_00})
	require.NoError(t, err)
	assert.Equal(t, []string{engine.EventApprovalRequested, engine.EventIntentDeclared}, since(eventTypes(t, env), n))
	n = len(eventTypes(t, env))
	_, err = e.Approve(ctx, op, engine.DecideInput{DecisionID: big.DecisionID})
	require.NoError(t, err)
	assert.Equal(t, []string{engine.EventApprovalDecided}, since(eventTypes(t, env), n))

	// An unanswered request expires (with its intent) when the sweep runs.
	other, err := e.DeclareIntent(ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "another", Amount: 60_00})
	require.NoError(t, err)
	n = len(eventTypes(t, env))
	env.Clock.Advance(25 * time.Hour)
	_, err = e.Sweep(ctx, op)
	require.NoError(t, err)
	got := since(eventTypes(t, env), n)
	assert.Contains(t, got, engine.EventApprovalDecided)
	assert.Contains(t, got, engine.EventIntentExpired)
	decided, err := items(e.ListEvents(ctx, op, engine.ListEventsInput{Type: engine.EventApprovalDecided, Page: engine.Page{Limit: 1}}))
	require.NoError(t, err)
	var d engine.Decision
	require.NoError(t, json.Unmarshal(decided[0].Data, &d))
	assert.Equal(t, other.DecisionID, d.ID)
	assert.Equal(t, engine.ApprovalExpired, d.ApprovalStatus)

	// A policy check needing a human asks for one; one blocked by a limit
	// says which.
	n = len(eventTypes(t, env))
	_, err = e.PolicyCheck(ctx, actor, engine.PolicyCheckInput{Amount: 20_00, Reason: "api credits"})
	require.NoError(t, err)
	assert.Equal(t, []string{engine.EventApprovalRequested}, since(eventTypes(t, env), n))
	_, err = e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](5_00)}}})
	require.NoError(t, err)
	n = len(eventTypes(t, env))
	dec, err := e.PolicyCheck(ctx, actor, engine.PolicyCheckInput{Amount: 6_00})
	require.NoError(t, err)
	require.Equal(t, engine.DecisionBlocked, dec.Status)
	assert.Equal(t, []string{engine.EventLimitExceeded}, since(eventTypes(t, env), n))
	limit, err := items(e.ListEvents(ctx, op, engine.ListEventsInput{Type: engine.EventLimitExceeded, Page: engine.Page{Limit: 1}}))
	require.NoError(t, err)
	var le engine.LimitExceeded
	require.NoError(t, json.Unmarshal(limit[0].Data, &le))
	assert.Equal(t, engine.LimitExceeded{AgentID: agent.ID, DecisionID: dec.ID, Rule: "per_transaction_limit", Code: engine.CodeSpendLimitExceeded,
		Message: le.Message, Amount: 6_00, Currency: "USD"}, le)
	// A dry run is a question, not a spend: no event.
	n = len(eventTypes(t, env))
	_, err = e.PolicyCheck(ctx, actor, engine.PolicyCheckInput{Amount: 6_00, DryRun: true})
	require.NoError(t, err)
	assert.Empty(t, since(eventTypes(t, env), n))
}

// Events never carry a card number, a CVV or a key.
func TestEventsCarryNoSecrets(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_00, engine.Policy{})
	i := env.Reveal(agent, card, 5_00, "Acme")
	details, err := env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: card.ID, IntentID: i.ID})
	require.NoError(t, err)
	_, err = env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{PAN: details.PAN, CVV: details.CVV, Amount: 5_00, Merchant: engine.Merchant{Name: "Acme"}})
	require.NoError(t, err)
	key, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: agent.ID})
	require.NoError(t, err)
	events, err := items(env.Engine.ListEvents(env.Ctx, engine.Operator, engine.ListEventsInput{}))
	require.NoError(t, err)
	require.NotEmpty(t, events)
	for _, ev := range events {
		body, err := json.Marshal(ev)
		require.NoError(t, err)
		for _, secret := range []string{details.PAN, `"` + details.CVV + `"`, key.Secret} {
			assert.NotContains(t, string(body), secret, ev.Type)
		}
	}
}

// webhookEnv is an engine with a short backoff and a webhook endpoint.
func webhookEnv(t *testing.T, events ...string) (*sqlitetest.Env, *engine.NewWebhook) {
	env := sqlitetest.NewWith(t, sqlitetest.Options{Engine: engine.Options{WebhookBackoff: []time.Duration{time.Second, 2 * time.Second}}})
	w, err := env.Engine.AddWebhook(env.Ctx, engine.Operator, engine.AddWebhookInput{URL: "https://ops.example.com/hooks", Events: events})
	require.NoError(t, err)
	return env, w
}

func TestAddWebhookValidates(t *testing.T) {
	env := sqlitetest.New(t)
	for _, tc := range []struct {
		name  string
		in    engine.AddWebhookInput
		field string
	}{
		{"no url", engine.AddWebhookInput{}, "url"},
		{"relative url", engine.AddWebhookInput{URL: "/hooks"}, "url"},
		{"not http", engine.AddWebhookInput{URL: "ftp://example.com/x"}, "url"},
		{"unknown event", engine.AddWebhookInput{URL: "https://example.com", Events: []string{"card.exploded"}}, "events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := env.Snapshot()
			_, err := env.Engine.AddWebhook(env.Ctx, engine.Operator, tc.in)
			require.Error(t, err)
			assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
			assert.True(t, strings.HasPrefix(engine.ErrorMessage(err), tc.field+":"), engine.ErrorMessage(err))
			assert.Equal(t, before, env.Snapshot())
		})
	}
	_, err := env.Engine.AddWebhook(env.Ctx, engine.Actor{Role: engine.RoleViewer}, engine.AddWebhookInput{URL: "https://example.com"})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))

	w, err := env.Engine.AddWebhook(env.Ctx, engine.Operator, engine.AddWebhookInput{URL: "https://example.com/h", Events: []string{"Card.Created"}})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(w.Secret, "whsec_"))
	assert.Equal(t, []string{engine.EventCardCreated}, w.Events)
	list, err := items(env.Engine.ListWebhooks(env.Ctx, engine.Actor{Role: engine.RoleViewer}, engine.Page{}))
	require.NoError(t, err)
	require.Len(t, list, 1)
	body, _ := json.Marshal(list)
	assert.NotContains(t, string(body), w.Secret)
}

func TestDeliveriesFollowSubscriptions(t *testing.T) {
	env, all := webhookEnv(t)
	cards, err := env.Engine.AddWebhook(env.Ctx, engine.Operator, engine.AddWebhookInput{URL: "https://cards.example.com", Events: []string{engine.EventCardCreated}})
	require.NoError(t, err)
	_, agent, _ := env.Setup(10_00, engine.Policy{}) // user.approved, account.funded, card.created

	mine := func(endpoint string) []string {
		list, err := items(env.Engine.ListDeliveries(env.Ctx, engine.Operator, engine.ListDeliveriesInput{EndpointID: endpoint}))
		require.NoError(t, err)
		var types []string
		for _, d := range list {
			assert.Equal(t, engine.DeliveryPending, d.Status)
			types = append(types, d.EventType)
		}
		return types
	}
	assert.Equal(t, []string{engine.EventCardCreated, engine.EventAccountFunded, engine.EventUserApproved}, mine(all.ID))
	assert.Equal(t, []string{engine.EventCardCreated}, mine(cards.ID))

	// A removed endpoint gets nothing more, and what it had pending is cancelled.
	_, err = env.Engine.RemoveWebhook(env.Ctx, engine.Operator, engine.RemoveWebhookInput{EndpointID: cards.ID})
	require.NoError(t, err)
	env.Card(agent)
	list, err := items(env.Engine.ListDeliveries(env.Ctx, engine.Operator, engine.ListDeliveriesInput{EndpointID: cards.ID}))
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, engine.DeliveryCancelled, list[0].Status)
	assert.Len(t, mine(all.ID), 4)
}

// claim leases what is due for one sender.
func claim(t *testing.T, env *sqlitetest.Env, owner string) []*engine.DeliveryJob {
	t.Helper()
	jobs, err := env.Engine.ClaimDeliveries(env.Ctx, engine.Operator, owner, 10, 30*time.Second)
	require.NoError(t, err)
	return jobs
}

func complete(t *testing.T, env *sqlitetest.Env, job *engine.DeliveryJob, status int) *engine.Delivery {
	t.Helper()
	d, err := env.Engine.CompleteDelivery(env.Ctx, engine.Operator, job, engine.DeliveryResult{StatusCode: status, Error: "HTTP " + strconv.Itoa(status)})
	require.NoError(t, err)
	return d
}

func TestDeliveryQueueOrderRetriesAndFailure(t *testing.T) {
	env, w := webhookEnv(t)
	u := env.User("ada", 0)
	for range 3 {
		_, err := env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: 1_00})
		require.NoError(t, err)
	}
	// Four events are queued (user.approved, then three fundings); only the
	// oldest is handed out, so the endpoint receives them in order.
	jobs := claim(t, env, "a")
	require.Len(t, jobs, 1)
	assert.Equal(t, engine.EventUserApproved, jobs[0].Event.Type)
	assert.Equal(t, w.Secret, jobs[0].Secret)
	assert.Equal(t, w.URL, jobs[0].URL)
	assert.Empty(t, claim(t, env, "b"), "leased to a, and nothing behind it may overtake it")

	// It fails: retried after the backoff, never before.
	d := complete(t, env, jobs[0], 500)
	assert.Equal(t, engine.DeliveryPending, d.Status)
	assert.Equal(t, 1, d.Attempts)
	assert.Equal(t, env.Clock.Now().Add(time.Second), d.NextAttemptAt)
	assert.Empty(t, claim(t, env, "a"))
	env.Clock.Advance(time.Second)
	jobs = claim(t, env, "a")
	require.Len(t, jobs, 1)
	d = complete(t, env, jobs[0], 503)
	assert.Equal(t, 2, d.Attempts)
	env.Clock.Advance(2 * time.Second)
	jobs = claim(t, env, "a")
	require.Len(t, jobs, 1)
	assert.Equal(t, engine.EventUserApproved, jobs[0].Event.Type)
	// The last retry fails too: the delivery is failed and the next event goes.
	d = complete(t, env, jobs[0], 404)
	assert.Equal(t, engine.DeliveryFailed, d.Status)
	assert.Equal(t, 3, d.Attempts)
	assert.Equal(t, 404, d.LastStatusCode)

	var got []string
	for {
		jobs := claim(t, env, "a")
		if len(jobs) == 0 {
			break
		}
		require.Len(t, jobs, 1)
		got = append(got, jobs[0].Event.ID)
		assert.Equal(t, engine.DeliveryDelivered, complete(t, env, jobs[0], 204).Status)
	}
	require.Len(t, got, 3)
	assert.True(t, slices.IsSorted(got), "delivered in the order they happened")

	// Replay queues a delivered event again, afresh.
	replayed, err := env.Engine.ReplayEvent(env.Ctx, engine.Operator, engine.ReplayInput{EventID: got[0]})
	require.NoError(t, err)
	require.Len(t, replayed, 1)
	jobs = claim(t, env, "a")
	require.Len(t, jobs, 1)
	assert.Equal(t, got[0], jobs[0].Event.ID)
	assert.Equal(t, 0, jobs[0].Attempts)

	_, err = env.Engine.ReplayEvent(env.Ctx, engine.Operator, engine.ReplayInput{EventID: "evt_nope"})
	assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
}

// A sender that dies holding a lease does not block the endpoint for good:
// once the lease runs out another sender takes the delivery over.
func TestAnExpiredLeaseIsTakenOver(t *testing.T) {
	env, _ := webhookEnv(t)
	env.User("ada", 0)
	require.Len(t, claim(t, env, "dead"), 1)
	assert.Empty(t, claim(t, env, "alive"))
	env.Clock.Advance(31 * time.Second)
	jobs := claim(t, env, "alive")
	require.Len(t, jobs, 1)
	assert.Equal(t, engine.EventUserApproved, jobs[0].Event.Type)
}

func TestCardLinksAndIssuerAuthorization(t *testing.T) {
	env := sqlitetest.New(t)
	e, op, ctx := env.Engine, engine.Operator, env.Ctx
	_, agent, card := env.Setup(100_00, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	other := env.Card(agent)

	for _, tc := range []struct {
		name  string
		in    engine.LinkCardInput
		code  string
		field string
	}{
		{"unknown issuer", engine.LinkCardInput{CardID: card.ID, Issuer: "visa", ExternalID: "x"}, engine.CodeInvalidInput, "issuer"},
		{"no external id", engine.LinkCardInput{CardID: card.ID, Issuer: engine.IssuerLithic}, engine.CodeInvalidInput, "external_id"},
		{"not a Stripe card id", engine.LinkCardInput{CardID: card.ID, Issuer: engine.IssuerStripe, ExternalID: "card_123"}, engine.CodeInvalidInput, "external_id"},
		{"unknown card", engine.LinkCardInput{CardID: "card_nope", Issuer: engine.IssuerStripe, ExternalID: "ic_123"}, engine.CodeNotFound, "card_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.LinkCard(ctx, op, tc.in)
			require.Error(t, err)
			assert.Equal(t, tc.code, engine.ErrorCode(err))
			assert.True(t, strings.HasPrefix(engine.ErrorMessage(err), tc.field+":"), engine.ErrorMessage(err))
		})
	}
	link, err := e.LinkCard(ctx, op, engine.LinkCardInput{CardID: card.ID, Issuer: engine.IssuerStripe, ExternalID: "ic_123"})
	require.NoError(t, err)
	assert.Equal(t, card.ID, link.CardID)
	_, err = e.LinkCard(ctx, op, engine.LinkCardInput{CardID: other.ID, Issuer: engine.IssuerStripe, ExternalID: "ic_123"})
	assert.Equal(t, engine.CodeConflict, engine.ErrorCode(err), "one issuer card, one agentledger card")
	_, err = e.LinkCard(ctx, op, engine.LinkCardInput{CardID: card.ID, Issuer: engine.IssuerStripe, ExternalID: "ic_123"})
	require.NoError(t, err, "linking again is harmless")

	network := engine.Actor{Role: engine.RoleNetwork, KeyID: "stripe"}
	a, err := e.Authorize(ctx, network, engine.AuthorizeInput{Issuer: engine.IssuerStripe, IssuerCardID: "ic_123", Amount: 5_00, Merchant: engine.Merchant{Name: "Acme", Country: "USA"}, NetworkID: "iauth_1"})
	require.NoError(t, err)
	assert.Equal(t, engine.AuthApproved, a.Status)
	assert.Equal(t, card.ID, a.CardID)
	assert.Equal(t, "USA", a.Merchant.Country)

	a, err = e.Authorize(ctx, network, engine.AuthorizeInput{Issuer: engine.IssuerStripe, IssuerCardID: "ic_unknown", Amount: 5_00, Merchant: engine.Merchant{Name: "Acme"}})
	require.NoError(t, err)
	assert.Equal(t, engine.CodeCardNotFound, a.DeclineCode)
	assert.Contains(t, a.Reason, "not linked")

	// A network key authorizes, settles, reverses and refunds, and nothing else.
	_, err = e.CreateCard(ctx, network, engine.CreateCardInput{Agent: agent.ID})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	_, err = e.FundUser(ctx, network, engine.FundInput{User: "user", Amount: 1})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	_, err = e.LinkCard(ctx, network, engine.LinkCardInput{CardID: card.ID, Issuer: engine.IssuerStripe, ExternalID: "ic_9"})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	key, err := e.CreateKey(ctx, op, engine.CreateKeyInput{Role: engine.RoleNetwork, Name: "stripe"})
	require.NoError(t, err)
	assert.Equal(t, engine.RoleNetwork, key.Role)
}

func TestFallbacksAreReconciledWithTheDecision(t *testing.T) {
	env := sqlitetest.New(t)
	e, op, ctx := env.Engine, engine.Operator, env.Ctx
	user, _, card := env.Setup(100_00, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	network := engine.Actor{Role: engine.RoleNetwork}
	charge := func(networkID string, amount int64) *engine.Authorization {
		a, err := e.Authorize(ctx, network, engine.AuthorizeInput{CardID: card.ID, Amount: amount, Merchant: engine.Merchant{Name: "Acme"}, NetworkID: networkID})
		require.NoError(t, err)
		return a
	}

	// The issuer was told to decline, but the engine approved late: the
	// approval is reversed so its hold does not tie up the money.
	late := charge("net_late", 30_00)
	require.Equal(t, engine.AuthApproved, late.Status)
	f, err := e.RecordFallback(ctx, network, engine.FallbackInput{Issuer: engine.IssuerLithic, NetworkID: "net_late", Answer: engine.FallbackDecline,
		Reason: "no decision within 1.5s", Amount: 30_00, Currency: "USD", Merchant: "Acme"})
	require.NoError(t, err)
	assert.Equal(t, late.ID, f.AuthorizationID)
	assert.Contains(t, f.Outcome, "reversed")
	got, err := e.GetAuthorization(ctx, op, late.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.AuthReversed, got.Status)
	bal, err := e.UserBalance(ctx, op, user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00), bal.Available)

	// No decision at all, and a disagreement the other way, are recorded.
	f, err = e.RecordFallback(ctx, network, engine.FallbackInput{Issuer: engine.IssuerStripe, NetworkID: "net_never", Answer: engine.FallbackDecline, Reason: "database busy", Amount: 1, Currency: "USD"})
	require.NoError(t, err)
	assert.Equal(t, "the engine made no decision", f.Outcome)
	declined := charge("net_big", 500_00)
	require.Equal(t, engine.CodeInsufficientFunds, declined.DeclineCode)
	f, err = e.RecordFallback(ctx, network, engine.FallbackInput{Issuer: engine.IssuerStripe, NetworkID: "net_big", Answer: engine.FallbackApprove, Reason: "timeout", Amount: 500_00, Currency: "USD"})
	require.NoError(t, err)
	assert.Contains(t, f.Outcome, "INSUFFICIENT_FUNDS")

	// A credit approved late after the issuer was told to decline is
	// reversed too; it held nothing, so nothing is released.
	credit, err := e.AuthorizeCredit(ctx, network, engine.AuthorizeInput{CardID: card.ID, Amount: 5_00,
		Merchant: engine.Merchant{Name: "Acme"}, NetworkID: "net_credit"})
	require.NoError(t, err)
	require.Equal(t, engine.AuthApproved, credit.Status)
	f, err = e.RecordFallback(ctx, network, engine.FallbackInput{Issuer: engine.IssuerLithic, NetworkID: "net_credit",
		Answer: engine.FallbackDecline, Reason: "timeout", Amount: 5_00, Currency: "USD"})
	require.NoError(t, err)
	assert.Contains(t, f.Outcome, "reversed")
	got, err = e.GetAuthorization(ctx, op, credit.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.AuthReversed, got.Status)

	list, err := e.ListFallbacks(ctx, engine.Actor{Role: engine.RoleViewer}, 0)
	require.NoError(t, err)
	require.Len(t, list, 4)
	assert.Equal(t, "net_credit", list[0].NetworkID)
	events, err := items(e.ListEvents(ctx, op, engine.ListEventsInput{Type: engine.EventIssuerFallback}))
	require.NoError(t, err)
	assert.Len(t, events, 4)
	env.Verify()
}

// An idle sender polls without writing: a poll with nothing due costs a
// read, not a write transaction and its fsync.
func TestAnIdlePollWritesNothing(t *testing.T) {
	env, _ := webhookEnv(t)
	env.User("ada", 0)
	require.Len(t, claim(t, env, "a"), 1) // leased for 30 s
	_, before := env.Stats()
	for range 5 {
		assert.Empty(t, claim(t, env, "a"))
	}
	_, after := env.Stats()
	assert.Equal(t, before, after)
}

// While an endpoint's head waits out its backoff, polls write nothing, even
// with events queued behind it.
func TestPollsDuringBackoffWriteNothing(t *testing.T) {
	env, _ := webhookEnv(t)
	env.User("ada", 0)
	env.User("bob", 0)
	jobs := claim(t, env, "a")
	require.Len(t, jobs, 1)
	complete(t, env, jobs[0], 500) // retried after 1 s
	_, before := env.Stats()
	for range 5 {
		assert.Empty(t, claim(t, env, "a"))
	}
	_, after := env.Stats()
	assert.Equal(t, before, after)
}

// Endpoints receive events in the order they committed, even when another
// process's clock (and so its event ids) runs behind.
func TestOrderIsCommitOrder(t *testing.T) {
	env, _ := webhookEnv(t)
	behind := env.Reopen(engine.Options{Clock: engine.NewManualClock(sqlitetest.Epoch.Add(-time.Minute))})
	first := env.User("ada", 0)     // committed first, with the later id
	second := behind.User("bob", 0) // committed second, with the earlier id
	require.Less(t, second.ID, first.ID)
	var got []string
	for {
		jobs := claim(t, env, "a")
		if len(jobs) == 0 {
			break
		}
		var u engine.User
		require.NoError(t, json.Unmarshal(jobs[0].Event.Data, &u))
		got = append(got, u.Name)
		complete(t, env, jobs[0], 200)
	}
	assert.Equal(t, []string{"ada", "bob"}, got)
}

// A delivery being sent cannot be replayed under the sender's feet, and a
// sender whose lease ran out (another took the delivery over) cannot
// record its late outcome over the other's.
func TestLeasesAreFenced(t *testing.T) {
	env, w := webhookEnv(t)
	env.User("ada", 0)
	slow := claim(t, env, "slow")
	require.Len(t, slow, 1)
	_, err := env.Engine.ReplayEvent(env.Ctx, engine.Operator, engine.ReplayInput{EventID: slow[0].Event.ID, EndpointID: w.ID})
	assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
	assert.Contains(t, engine.ErrorMessage(err), "being sent")

	env.Clock.Advance(31 * time.Second) // slow's lease runs out
	fast := claim(t, env, "fast")
	require.Len(t, fast, 1)
	late := complete(t, env, slow[0], 200)
	assert.Equal(t, engine.DeliveryPending, late.Status, "slow's outcome does not count")
	list, err := items(env.Engine.ListDeliveries(env.Ctx, engine.Operator, engine.ListDeliveriesInput{}))
	require.NoError(t, err)
	assert.Equal(t, 0, list[0].Attempts)
	assert.Empty(t, claim(t, env, "other"), "still fast's")
	assert.Equal(t, engine.DeliveryDelivered, complete(t, env, fast[0], 200).Status)
}
