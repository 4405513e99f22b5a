package engine_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/engine/issuertest"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type issuerWorld struct {
	*sqlitetest.Env
	stripe, lithic *issuertest.Issuer
	user           *engine.User
	agent          *engine.Agent
}

func newIssuerWorld(t *testing.T) *issuerWorld {
	stripe, lithic := issuertest.New(engine.IssuerStripe), issuertest.New(engine.IssuerLithic)
	lithic.MirrorsMCCs = false
	env := sqlitetest.NewWith(t, sqlitetest.Options{Engine: engine.Options{Issuers: []engine.CardIssuer{stripe, lithic},
		IssuerTimeout: 200 * time.Millisecond}})
	u := env.User("Ada Lovelace", 100_000)
	a := env.Agent("buyer", u, engine.Policy{SpendLimits: engine.SpendLimits{
		PerTransactionLimit: sqlitetest.Ptr[int64](5_000), DailyLimit: sqlitetest.Ptr[int64](10_000),
		BlockedMCCs: []string{"7995"},
	}})
	return &issuerWorld{Env: env, stripe: stripe, lithic: lithic, user: u, agent: a}
}

func (w *issuerWorld) create(in engine.CreateCardInput) (*engine.Card, error) {
	if in.Agent == "" {
		in.Agent = w.agent.ID
	}
	return w.Engine.CreateCard(w.Ctx, engine.Operator, in)
}

func (w *issuerWorld) queue() []*engine.IssuerSync {
	w.T.Helper()
	r, err := w.Engine.SyncIssuers(w.Ctx, engine.Operator, engine.IssuerSyncInput{DryRun: true})
	require.NoError(w.T, err)
	return r.Queued
}

func TestProvisionAtIssuer(t *testing.T) {
	w := newIssuerWorld(t)
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe,
		Limits: engine.SpendLimits{MonthlyLimit: sqlitetest.Ptr[int64](20_000)}})
	require.NoError(t, err)
	assert.Equal(t, engine.IssuerStripe, card.Issuer)
	at, ok := w.stripe.Card(card.IssuerCardID)
	require.True(t, ok, "the card exists at the issuer")
	assert.Equal(t, at.Last4, card.Last4, "the card carries the issuer's last four digits")
	assert.Equal(t, [2]int{at.ExpMonth, at.ExpYear}, [2]int{card.ExpMonth, card.ExpYear})
	assert.Equal(t, engine.IssuerControls{PerTransaction: 5_000, Daily: 10_000, Monthly: 20_000, BlockedMCCs: []string{"7995"}},
		at.Controls, "the policy's and the card's limits are mirrored")
	links, err := w.Engine.CardLinks(w.Ctx, engine.Operator, card.ID)
	require.NoError(t, err)
	require.Len(t, links, 1, "the issuer's authorizations find the card by its link")
	assert.Equal(t, card.IssuerCardID, links[0].ExternalID)

	second, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	assert.Equal(t, 1, w.stripe.Cardholders(), "one cardholder per user, created once")
	assert.NotEqual(t, card.IssuerCardID, second.IssuerCardID)

	// The agent's default issuer applies when none is named; none asks for a sandbox card.
	_, err = w.Engine.SetDefaultIssuer(w.Ctx, engine.Operator, engine.SetDefaultIssuerInput{Agent: w.agent.ID, Issuer: engine.IssuerLithic})
	require.NoError(t, err)
	byDefault, err := w.Engine.CreateCard(w.Ctx, sqlitetest.AgentActor(w.agent), engine.CreateCardInput{})
	require.NoError(t, err)
	assert.Equal(t, engine.IssuerLithic, byDefault.Issuer)
	lithicCard, _ := w.lithic.Card(byDefault.IssuerCardID)
	assert.Empty(t, lithicCard.Controls.BlockedMCCs, "Lithic holds no MCC list")
	sandbox, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerNone})
	require.NoError(t, err)
	assert.Empty(t, sandbox.Issuer)
	w.Verify()
}

func TestProvisionIdempotent(t *testing.T) {
	w := newIssuerWorld(t)
	in := engine.CreateCardInput{Issuer: engine.IssuerStripe, IdempotencyKey: "k1"}
	first, err := w.create(in)
	require.NoError(t, err)
	again, err := w.create(in)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, 1, w.stripe.Cards(), "a repeated request makes no second card at the issuer")
}

// A create the issuer refuses, or that cannot be recorded, leaves no card
// on either side.
func TestProvisionFailures(t *testing.T) {
	t.Run("not configured", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, _ := env.Setup(1000, engine.Policy{})
		before := env.Snapshot()
		_, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID, Issuer: engine.IssuerStripe})
		require.Error(t, err)
		assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
		assert.Contains(t, engine.ErrorMessage(err), "AGENTLEDGER_STRIPE_API_KEY")
		assert.Equal(t, before, env.Snapshot())
	})
	t.Run("unknown issuer", func(t *testing.T) {
		w := newIssuerWorld(t)
		_, err := w.create(engine.CreateCardInput{Issuer: "visa"})
		var e *engine.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "issuer", e.Field)
	})
	for _, tc := range []struct {
		name  string
		fault []issuertest.Fault
		code  string
		// atIssuer is what the issuer holds after: no card, or a cancelled one.
		cancelled bool
		queued    bool
	}{
		{"refused", []issuertest.Fault{issuertest.Refused}, engine.CodeIssuerRefused, false, false},
		{"server error", []issuertest.Fault{issuertest.ServerError}, engine.CodeIssuerUnavailable, false, false},
		{"unreached", []issuertest.Fault{issuertest.Unreached}, engine.CodeIssuerUnavailable, false, false},
		// The issuer made the card but its answer was lost: the create is
		// repeated to find it, and it is cancelled.
		{"answer lost", []issuertest.Fault{issuertest.LostAnswer}, engine.CodeIssuerUnavailable, true, false},
		// ... and when the issuer stays away, the cancellation is queued.
		{"answer lost, issuer gone", []issuertest.Fault{issuertest.LostAnswer, issuertest.Unreached},
			engine.CodeIssuerUnavailable, false, true},
		// ... or hangs past the timeout: the queue entry is written first.
		{"answer lost, issuer hangs", []issuertest.Fault{issuertest.LostAnswer, issuertest.Hang},
			engine.CodeIssuerUnavailable, false, true},
		// ... or answers that the first request is still under way, which
		// does not prove that no card was made.
		{"answer lost, key in use", []issuertest.Fault{issuertest.LostAnswer, issuertest.InUse},
			engine.CodeIssuerUnavailable, false, true},
		// An answer that cannot be used: the card may exist all the same.
		{"answer garbled", []issuertest.Fault{issuertest.Garbled}, engine.CodeIssuerRefused, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newIssuerWorld(t)
			before := w.Snapshot()
			w.stripe.Fail("CreateCard", tc.fault...)
			_, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
			require.Error(t, err)
			assert.Equal(t, tc.code, engine.ErrorCode(err))
			assert.Contains(t, engine.ErrorMessage(err), "stripe")
			assert.Contains(t, engine.ErrorMessage(err), "no card was created")
			cards, err := w.Engine.ListCards(w.Ctx, engine.Operator, "", engine.Page{})
			require.NoError(t, err)
			assert.Empty(t, cards.Items, "no card here")
			if !tc.queued {
				assert.Equal(t, before, w.Snapshot(), "nothing written here")
			}
			open := 0
			for _, c := range w.stripe.Calls() {
				if c.Method == "CreateCard" && c.Ext != "" {
					if at, _ := w.stripe.Card(c.Ext); at.Status != engine.CardClosed {
						open++
					}
				}
			}
			if !tc.queued {
				assert.Equal(t, 0, open, "no usable card is left at the issuer")
			}
			if tc.cancelled {
				assert.Equal(t, 1, w.stripe.Cards(), "the create was repeated, not doubled")
			}
			if tc.queued {
				q := w.queue()
				require.Len(t, q, 1, "the cancellation waits in the queue")
				assert.True(t, q[0].IsAbandoned())
				w.Clock.Advance(time.Minute)
				tried, left, err := w.Engine.SyncIssuerQueue(w.Ctx)
				require.NoError(t, err)
				assert.Equal(t, [2]int{1, 0}, [2]int{tried, left})
				assert.Empty(t, w.queue())
				assert.Equal(t, 1, w.stripe.Cards())
				for _, c := range w.stripe.Calls() {
					if c.Ext != "" {
						at, _ := w.stripe.Card(c.Ext)
						assert.Equal(t, engine.CardClosed, at.Status, "the queued cancellation happened")
					}
				}
			}
		})
	}
	t.Run("agent disabled meanwhile", func(t *testing.T) {
		w := newIssuerWorld(t)
		w.stripe.OnCreate = func() {
			_, err := w.Engine.SetAgentMode(w.Ctx, engine.Operator, engine.SetModeInput{Agent: w.agent.ID, Mode: engine.ModeDisabled})
			require.NoError(t, err)
		}
		_, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
		assert.Equal(t, engine.CodeAgentDisabled, engine.ErrorCode(err))
		require.Equal(t, 1, w.stripe.Cards())
		calls := w.stripe.Calls()
		at, _ := w.stripe.Card(calls[0].Ext)
		assert.Equal(t, engine.CardClosed, at.Status, "the card the issuer made is cancelled: %v", calls)
		assert.Empty(t, w.queue())
	})
}

func TestIssuerStateFollows(t *testing.T) {
	w := newIssuerWorld(t)
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	status := func() string {
		at, _ := w.stripe.Card(card.IssuerCardID)
		return at.Status
	}
	in := engine.CardActionInput{CardID: card.ID}
	for _, step := range []struct {
		do   func(engine.CardActionInput) (*engine.Card, error)
		want string
	}{
		{func(in engine.CardActionInput) (*engine.Card, error) {
			return w.Engine.FreezeCard(w.Ctx, engine.Operator, in)
		}, engine.CardFrozen},
		{func(in engine.CardActionInput) (*engine.Card, error) {
			return w.Engine.UnfreezeCard(w.Ctx, engine.Operator, in)
		}, engine.CardActive},
	} {
		c, err := step.do(in)
		require.NoError(t, err)
		assert.Equal(t, step.want, c.Status)
		assert.Equal(t, engine.IssuerSynced, c.IssuerSync)
		assert.Equal(t, step.want, status(), "the issuer's card follows in the same operation")
	}

	// A policy change updates the mirrored controls.
	_, err = w.Engine.PatchPolicy(w.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: w.agent.ID,
		Patch: map[string]json.RawMessage{"daily_limit": json.RawMessage("2500"), "blocked_mccs": json.RawMessage("null")}})
	require.NoError(t, err)
	at, _ := w.stripe.Card(card.IssuerCardID)
	assert.Equal(t, engine.IssuerControls{PerTransaction: 5_000, Daily: 2_500}, at.Controls)

	// Freezing every card reaches the issuer too.
	cards, err := w.Engine.FreezeAllCards(w.Ctx, engine.Operator, engine.FreezeAllCardsInput{})
	require.NoError(t, err)
	require.Len(t, cards, 1)
	assert.Equal(t, engine.IssuerSynced, cards[0].IssuerSync)
	assert.Equal(t, engine.CardFrozen, status())

	c, err := w.Engine.CloseCard(w.Ctx, engine.Operator, in)
	require.NoError(t, err)
	assert.Equal(t, engine.CardClosed, c.Status)
	assert.Equal(t, engine.CardClosed, status())
	assert.Empty(t, w.queue())
}

// With the issuer unreachable a freeze still happens here at once, and
// reaches the issuer from the queue when it is back.
func TestIssuerDownFreezeIsQueued(t *testing.T) {
	for _, fault := range []issuertest.Fault{issuertest.Unreached, issuertest.ServerError, issuertest.LostAnswer, issuertest.Refused} {
		w := newIssuerWorld(t)
		card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
		require.NoError(t, err)
		w.stripe.Fail("UpdateCard", fault, fault)
		c, err := w.Engine.FreezeCard(w.Ctx, sqlitetest.AgentActor(w.agent), engine.CardActionInput{CardID: card.ID})
		require.NoError(t, err, "the local freeze is never held back")
		assert.Equal(t, engine.CardFrozen, c.Status)
		assert.True(t, strings.HasPrefix(c.IssuerSync, "pending: "), c.IssuerSync)
		got, err := w.Engine.GetCard(w.Ctx, engine.Operator, card.ID)
		require.NoError(t, err)
		assert.Equal(t, engine.CardFrozen, got.Status)
		a, err := w.Engine.Authorize(w.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: 100, Currency: "USD",
			Merchant: engine.Merchant{Name: "Shop"}})
		require.NoError(t, err)
		assert.Equal(t, engine.CodeCardFrozen, a.DeclineCode, "declined here from the moment of the freeze")

		q := w.queue()
		require.Len(t, q, 1)
		assert.Equal(t, 1, q[0].Attempts)
		assert.NotEmpty(t, q[0].LastError)

		tried, _, err := w.Engine.SyncIssuerQueue(w.Ctx)
		require.NoError(t, err)
		assert.Zero(t, tried, "not due yet: the retry backs off")
		w.Clock.Advance(10 * time.Second)
		_, left, err := w.Engine.SyncIssuerQueue(w.Ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, left, "the second attempt fails too")
		assert.Equal(t, 2, w.queue()[0].Attempts)
		w.Clock.Advance(time.Minute)
		_, left, err = w.Engine.SyncIssuerQueue(w.Ctx)
		require.NoError(t, err)
		assert.Zero(t, left)
		at, _ := w.stripe.Card(card.IssuerCardID)
		assert.Equal(t, engine.CardFrozen, at.Status, "fault %d: the freeze reached the issuer", fault)
		assert.Empty(t, w.queue())
	}
}

// A single-use card closes here when it is used, and then at the issuer.
func TestSingleUseIssuerCardCloses(t *testing.T) {
	w := newIssuerWorld(t)
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerLithic, Type: engine.CardSingleUse})
	require.NoError(t, err)
	w.Reveal(w.agent, card, 1000, "Shop")
	a := w.Charge(card, 1000, "Shop", "5999")
	require.Equal(t, engine.AuthApproved, a.Status, a.Reason)
	require.Len(t, w.queue(), 1)
	_, left, err := w.Engine.SyncIssuerQueue(w.Ctx)
	require.NoError(t, err)
	assert.Zero(t, left)
	at, _ := w.lithic.Card(card.IssuerCardID)
	assert.Equal(t, engine.CardClosed, at.Status)
}

// The issuer's number is fetched only after an intent is revealed, and is
// never kept.
func TestRevealFetchesFromIssuer(t *testing.T) {
	w := newIssuerWorld(t)
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	actor := sqlitetest.AgentActor(w.agent)

	_, err = w.Engine.RevealCard(w.Ctx, actor, engine.RevealInput{CardID: card.ID})
	assert.Equal(t, engine.CodeIntentRequired, engine.ErrorCode(err))
	assert.NotContains(t, w.stripe.Methods(), "Credentials", "no number fetched without an intent")

	intent, err := w.Engine.DeclareIntent(w.Ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "cables", Amount: 1200})
	require.NoError(t, err)
	w.stripe.Fail("Credentials", issuertest.Unreached)
	_, err = w.Engine.RevealCard(w.Ctx, actor, engine.RevealInput{CardID: card.ID})
	require.Error(t, err)
	assert.Equal(t, engine.CodeIssuerUnavailable, engine.ErrorCode(err))
	assert.Contains(t, engine.ErrorMessage(err), "ask for the details again")
	got, err := w.Engine.GetIntent(w.Ctx, actor, intent.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.IntentRevealed, got.Status, "the intent was revealed before the fetch")

	details, err := w.Engine.RevealCard(w.Ctx, actor, engine.RevealInput{CardID: card.ID, IdempotencyKey: "r1"})
	require.NoError(t, err)
	assert.Equal(t, "424242424242"+card.Last4, details.PAN, "the issuer's number")
	assert.Equal(t, "314", details.CVV)
	assert.Equal(t, intent.ID, details.IntentID)
	again, err := w.Engine.RevealCard(w.Ctx, actor, engine.RevealInput{CardID: card.ID, IdempotencyKey: "r1"})
	require.NoError(t, err)
	assert.Equal(t, details.PAN, again.PAN, "a repeated reveal fetches again")

	methods := w.stripe.Methods()
	assert.Equal(t, "CreateCard Credentials Credentials Credentials", methods)
	snap := w.Snapshot()
	assert.NotContains(t, snap, details.PAN, "the number is not stored")
	assert.NotContains(t, snap, card.Last4+`","cvv`)
}

func TestSyncIssuersRepairsDrift(t *testing.T) {
	w := newIssuerWorld(t)
	frozenThere, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	closedThere, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	queued, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	w.stripe.SetStatus(frozenThere.IssuerCardID, engine.CardFrozen)
	w.stripe.SetStatus(closedThere.IssuerCardID, engine.CardClosed)
	// A change that did not reach the issuer: the issuer is behind.
	w.stripe.Fail("UpdateCard", issuertest.Unreached)
	_, err = w.Engine.FreezeCard(w.Ctx, engine.Operator, engine.CardActionInput{CardID: queued.ID})
	require.NoError(t, err)

	dry, err := w.Engine.SyncIssuers(w.Ctx, engine.Operator, engine.IssuerSyncInput{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 3, dry.Checked)
	require.Len(t, dry.Drift, 3)
	for _, d := range dry.Drift {
		assert.Equal(t, "status", d.Field)
		assert.Equal(t, "none (dry run)", d.Repair)
	}
	assert.Len(t, dry.Queued, 1)
	c, _ := w.Engine.GetCard(w.Ctx, engine.Operator, frozenThere.ID)
	assert.Equal(t, engine.CardActive, c.Status, "a dry run changes nothing")

	r, err := w.Engine.SyncIssuers(w.Ctx, engine.Operator, engine.IssuerSyncInput{})
	require.NoError(t, err)
	repairs := map[string]string{}
	for _, d := range r.Drift {
		repairs[d.CardID] = d.Repair
	}
	assert.Equal(t, map[string]string{frozenThere.ID: "frozen here", closedThere.ID: "closed here", queued.ID: "pushed to the issuer"}, repairs)
	assert.Empty(t, r.Queued)
	for id, want := range map[string]string{frozenThere.ID: engine.CardFrozen, closedThere.ID: engine.CardClosed, queued.ID: engine.CardFrozen} {
		c, err := w.Engine.GetCard(w.Ctx, engine.Operator, id)
		require.NoError(t, err)
		assert.Equal(t, want, c.Status)
		at, _ := w.stripe.Card(c.IssuerCardID)
		assert.Equal(t, want, at.Status)
	}
	again, err := w.Engine.SyncIssuers(w.Ctx, engine.Operator, engine.IssuerSyncInput{})
	require.NoError(t, err)
	assert.Empty(t, again.Drift, "no drift once repaired")
	w.Verify()
}

// A change of controls alone never undoes a freeze made at the issuer.
func TestControlsChangeKeepsIssuerFreeze(t *testing.T) {
	w := newIssuerWorld(t)
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	w.stripe.SetStatus(card.IssuerCardID, engine.CardFrozen) // the fraud team, in Stripe's dashboard
	_, err = w.Engine.PatchPolicy(w.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: w.agent.ID,
		Patch: map[string]json.RawMessage{"daily_limit": json.RawMessage("900")}})
	require.NoError(t, err)
	at, _ := w.stripe.Card(card.IssuerCardID)
	assert.Equal(t, engine.CardFrozen, at.Status, "still frozen at the issuer")
	assert.Equal(t, int64(900), at.Controls.Daily, "the controls changed")

	// A controls change still queued when sync runs: the issuer's freeze is adopted.
	w.stripe.Fail("UpdateCard", issuertest.Unreached)
	_, err = w.Engine.PatchPolicy(w.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: w.agent.ID,
		Patch: map[string]json.RawMessage{"daily_limit": json.RawMessage("800")}})
	require.NoError(t, err)
	require.Len(t, w.queue(), 1)
	r, err := w.Engine.SyncIssuers(w.Ctx, engine.Operator, engine.IssuerSyncInput{})
	require.NoError(t, err)
	require.NotEmpty(t, r.Drift)
	assert.Equal(t, "frozen here", r.Drift[0].Repair)
	got, _ := w.Engine.GetCard(w.Ctx, engine.Operator, card.ID)
	assert.Equal(t, engine.CardFrozen, got.Status)
	at, _ = w.stripe.Card(card.IssuerCardID)
	assert.Equal(t, engine.CardFrozen, at.Status)
	assert.Equal(t, int64(800), at.Controls.Daily)
	assert.Empty(t, r.Queued)
}

// A card closed at the issuer is closed here, even with a change of its
// status still queued: nothing can reopen it.
func TestClosedAtIssuerWinsOverQueuedChange(t *testing.T) {
	w := newIssuerWorld(t)
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerLithic})
	require.NoError(t, err)
	w.lithic.Fail("UpdateCard", issuertest.Unreached)
	_, err = w.Engine.FreezeCard(w.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	w.lithic.SetStatus(card.IssuerCardID, engine.CardClosed)
	r, err := w.Engine.SyncIssuers(w.Ctx, engine.Operator, engine.IssuerSyncInput{})
	require.NoError(t, err)
	require.Len(t, r.Drift, 1)
	assert.Equal(t, "closed here", r.Drift[0].Repair)
	assert.Empty(t, r.Queued, "nothing left to retry forever")
	got, _ := w.Engine.GetCard(w.Ctx, engine.Operator, card.ID)
	assert.Equal(t, engine.CardClosed, got.Status)
}

// A repeated reveal (same idempotency key) fetches the number again only
// while the card, agent and intent still allow it.
func TestRevealReplayChecksAgain(t *testing.T) {
	for name, change := range map[string]func(w *issuerWorld, card *engine.Card){
		"card closed": func(w *issuerWorld, card *engine.Card) {
			_, err := w.Engine.CloseCard(w.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
			require.NoError(w.T, err)
		},
		"agent disabled": func(w *issuerWorld, _ *engine.Card) {
			_, err := w.Engine.SetAgentMode(w.Ctx, engine.Operator, engine.SetModeInput{Agent: w.agent.ID, Mode: engine.ModeDisabled})
			require.NoError(w.T, err)
		},
		"intent lapsed": func(w *issuerWorld, _ *engine.Card) { w.Clock.Advance(time.Hour) },
		"intent cancelled": func(w *issuerWorld, _ *engine.Card) {
			intents, err := w.Engine.ListIntents(w.Ctx, engine.Operator, engine.ListIntentsInput{Agent: w.agent.ID})
			require.NoError(w.T, err)
			_, err = w.Engine.CancelIntent(w.Ctx, engine.Operator, engine.CancelIntentInput{IntentID: intents.Items[0].ID})
			require.NoError(w.T, err)
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newIssuerWorld(t)
			card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
			require.NoError(t, err)
			actor := sqlitetest.AgentActor(w.agent)
			_, err = w.Engine.DeclareIntent(w.Ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "paper", Amount: 500})
			require.NoError(t, err)
			in := engine.RevealInput{CardID: card.ID, IdempotencyKey: "k"}
			_, err = w.Engine.RevealCard(w.Ctx, actor, in)
			require.NoError(t, err)
			change(w, card)
			before := len(w.stripe.Calls())
			_, err = w.Engine.RevealCard(w.Ctx, actor, in)
			require.Error(t, err, "a replay does not skip the checks")
			for _, c := range w.stripe.Calls()[before:] {
				assert.NotEqual(t, "Credentials", c.Method, "no number fetched")
			}
		})
	}
}

// The policy tightened while the issuer was making the card: the card is
// brought up to date at once.
func TestPolicyChangedDuringCreate(t *testing.T) {
	w := newIssuerWorld(t)
	w.stripe.OnCreate = func() {
		w.stripe.OnCreate = nil
		_, err := w.Engine.PatchPolicy(w.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: w.agent.ID,
			Patch: map[string]json.RawMessage{"daily_limit": json.RawMessage("100")}})
		require.NoError(t, err)
	}
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	at, _ := w.stripe.Card(card.IssuerCardID)
	assert.Equal(t, int64(100), at.Controls.Daily, "the tightened limit reached the issuer")
	assert.Empty(t, w.queue())
}

// Two processes push one card: the older push lands last, and is
// repeated with the card's present state.
func TestStalePushFromAnotherProcessIsRepaired(t *testing.T) {
	w := newIssuerWorld(t)
	card, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe})
	require.NoError(t, err)
	_, err = w.Engine.FreezeCard(w.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	other := w.Reopen(engine.Options{Issuers: []engine.CardIssuer{w.stripe, w.lithic}})

	entered, release := make(chan struct{}), make(chan struct{})
	var once bool
	w.stripe.OnUpdate = func(spec engine.IssuerCardSpec) {
		if !once && spec.Status == engine.CardActive {
			once = true
			close(entered)
			<-release // the first process's unfreeze is slow to land
		}
	}
	done := make(chan error)
	go func() {
		_, err := w.Engine.UnfreezeCard(w.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
		done <- err
	}()
	<-entered
	_, err = other.Engine.FreezeCard(w.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	at, _ := w.stripe.Card(card.IssuerCardID)
	require.Equal(t, engine.CardFrozen, at.Status)
	close(release)
	require.NoError(t, <-done)

	got, _ := w.Engine.GetCard(w.Ctx, engine.Operator, card.ID)
	assert.Equal(t, engine.CardFrozen, got.Status)
	at, _ = w.stripe.Card(card.IssuerCardID)
	assert.Equal(t, engine.CardFrozen, at.Status, "the stale unfreeze was overwritten with the card's present state")
}

// Concurrent creates with one idempotency key: one card, and no other
// usable at the issuer.
func TestConcurrentProvisionSameKey(t *testing.T) {
	w := newIssuerWorld(t)
	const n = 4
	ids := make(chan string, n)
	for range n {
		go func() {
			c, err := w.create(engine.CreateCardInput{Issuer: engine.IssuerStripe, IdempotencyKey: "same"})
			if err != nil {
				ids <- "error: " + err.Error()
				return
			}
			ids <- c.ID
		}()
	}
	seen := map[string]bool{}
	for range n {
		seen[<-ids] = true
	}
	require.Len(t, seen, 1, "every request got the same card: %v", seen)
	open := 0
	for _, c := range w.stripe.Calls() {
		if c.Method == "CreateCard" && c.Ext != "" {
			if at, _ := w.stripe.Card(c.Ext); at.Status != engine.CardClosed {
				open++
			}
		}
	}
	assert.Equal(t, 1, open, "the others were cancelled at the issuer")
}

// BenchmarkFreezeUnfreeze measures what following an issuer adds to a card
// change: a sandbox card beside an issuer card at an in-memory issuer that
// answers at once (the queue entry, the push's reads and its removal; no
// network).
func BenchmarkFreezeUnfreeze(b *testing.B) {
	for _, issuer := range []string{engine.IssuerNone, engine.IssuerStripe} {
		b.Run("issuer="+issuer, func(b *testing.B) {
			stripe := issuertest.New(engine.IssuerStripe)
			env := sqlitetest.NewWith(b, sqlitetest.Options{Engine: engine.Options{Issuers: []engine.CardIssuer{stripe}}})
			_, agent, _ := env.Setup(1000, engine.Policy{})
			card, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID, Issuer: issuer})
			require.NoError(b, err)
			in := engine.CardActionInput{CardID: card.ID}
			b.ResetTimer()
			for range b.N {
				if _, err := env.Engine.FreezeCard(env.Ctx, engine.Operator, in); err != nil {
					b.Fatal(err)
				}
				if _, err := env.Engine.UnfreezeCard(env.Ctx, engine.Operator, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
