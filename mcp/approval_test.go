package mcp_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// human is the person behind an MCP client: asked through elicitation, it
// answers as told and remembers what it was asked.
type human struct {
	action  mcpgo.ElicitationResponseAction
	approve bool
	asked   atomic.Int32
	message atomic.Value
}

func (h *human) Elicit(_ context.Context, req mcpgo.ElicitationRequest) (*mcpgo.ElicitationResult, error) {
	h.asked.Add(1)
	h.message.Store(req.Params.Message)
	res := &mcpgo.ElicitationResult{ElicitationResponse: mcpgo.ElicitationResponse{Action: h.action}}
	if h.action == mcpgo.ElicitationResponseActionAccept {
		res.Content = map[string]any{"approve": h.approve, "note": "fine by me"}
	}
	return res, nil
}

func clientApproval(allowed bool) engine.Policy {
	return engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](5_000), ClientApproval: allowed}
}

func TestApprovalThroughTheClient(t *testing.T) {
	cases := []struct {
		name       string
		allowed    bool
		human      *human // nil: a client that cannot elicit
		wantStatus string
		wantAsked  int32
	}{
		{"the human approves", true, &human{action: mcpgo.ElicitationResponseActionAccept, approve: true}, engine.IntentPending, 1},
		{"the human declines", true, &human{action: mcpgo.ElicitationResponseActionDecline}, engine.IntentDenied, 1},
		{"the human cancels", true, &human{action: mcpgo.ElicitationResponseActionCancel}, engine.IntentDenied, 1},
		{"the human answers but does not approve", true, &human{action: mcpgo.ElicitationResponseActionAccept, approve: false}, engine.IntentDenied, 1},
		{"the policy does not allow client approval", false, &human{action: mcpgo.ElicitationResponseActionAccept, approve: true}, engine.IntentAwaitingApproval, 0},
		{"the client cannot elicit", true, nil, engine.IntentAwaitingApproval, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, clientApproval(tc.allowed))
			var opts []client.ClientOption
			if tc.human != nil {
				opts = append(opts, client.WithElicitationHandler(tc.human))
			}
			s := r.agentSession(opts...)
			var intent engine.Intent
			txt := s.ok("ledger_intent", args{"action": "declare", "summary": "Standing desk", "amount": 8000, "merchant": "IKEA", "card_id": r.card.ID}, &intent)
			assert.Equal(t, tc.wantStatus, intent.Status, txt)
			if tc.human != nil {
				assert.Equal(t, tc.wantAsked, tc.human.asked.Load())
			}
			if tc.wantAsked > 0 {
				assert.Contains(t, tc.human.message.Load(), "$80.00 at IKEA")
				d, err := r.env.Engine.GetDecision(r.env.Ctx, engine.Operator, intent.DecisionID)
				require.NoError(t, err)
				assert.Equal(t, "mcp-client:rig-test", d.DecidedBy)
			}
			queue, err := items(r.env.Engine.ListApprovals(r.env.Ctx, engine.Operator, engine.ListApprovalsInput{}))
			require.NoError(t, err)
			assert.Equal(t, tc.wantStatus == engine.IntentAwaitingApproval, len(queue) == 1, "only an unanswered request waits in the operator's queue")
			if tc.wantStatus == engine.IntentPending {
				s.ok("ledger_card", args{"action": "details", "card_id": r.card.ID}, nil)
				assert.Equal(t, engine.AuthApproved, r.charge(r.card.ID, 8000, "IKEA").Status)
			}
		})
	}
}

func TestPolicyCheckApprovalThroughTheClient(t *testing.T) {
	r := newRig(t, clientApproval(true))
	h := &human{action: mcpgo.ElicitationResponseActionAccept, approve: true}
	s := r.agentSession(client.WithElicitationHandler(h))
	var d engine.Decision
	txt := s.ok("policy_check", args{"action_type": "api_spend", "amount": 9000, "reason": "fine-tuning run"}, &d)
	assert.Equal(t, engine.DecisionRequiresApproval, d.Status)
	assert.Equal(t, engine.ApprovalApproved, d.ApprovalStatus, txt)
	assert.Contains(t, h.message.Load(), `"fine-tuning run"`)
	s.ok("policy_check", args{"action": "execute", "decision_id": d.ID}, &d)
	assert.Equal(t, engine.ApprovalExecuted, d.ApprovalStatus)
}

// An answer cannot be made up: the request state is signed by the server.
func TestForgedApprovalStateIsRefused(t *testing.T) {
	r := newRig(t, clientApproval(true))
	ctx := mcp.WithActor(context.Background(), engine.Actor{Role: engine.RoleAgent, AgentID: r.agent.ID})
	resp := r.srv.MCPServer().HandleMessage(ctx, []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{
		"name":"ledger_intent","arguments":{"action":"declare","summary":"x","amount":8000},
		"requestState":"ZGVjX3h8OTk5OTk5OTk5OQ.bm90LWEtc2lnbmF0dXJl",
		"inputResponses":{"approval":{"action":"accept","content":{"approve":true}}}}}`))
	raw, err := json.Marshal(resp)
	require.NoError(t, err)
	var msg struct {
		Result mcpgo.CallToolResult `json:"result"`
	}
	require.NoError(t, json.Unmarshal(raw, &msg), string(raw))
	require.True(t, msg.Result.IsError, string(raw))
	assert.Contains(t, text(&msg.Result), "requestState")
	list, err := items(r.env.Engine.ListIntents(r.env.Ctx, engine.Operator, engine.ListIntentsInput{}))
	require.NoError(t, err)
	assert.Empty(t, list, "nothing was declared")
}

// items drops a list's paging, for tests that read a whole list.
func items[T any](l engine.List[T], err error) ([]*T, error) { return l.Items, err }
