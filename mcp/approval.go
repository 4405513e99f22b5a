package mcp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Approvals through the client. When a spend needs a human and the agent's
// policy has client_approval, the tool answers with an elicitation input
// request (the multi-round-trip style: a 2026-07-28 client gets it as an
// input_required result, an older client as an elicitation/create request
// that mcp-go sends on our behalf). The client calls again with the human's
// answer and the request state we gave it; only then is the decision
// answered. The state is signed, so an answer cannot be made up for a
// decision the server never asked about.

const (
	approvalInput = "approval"
	approvalRound = 10 * time.Minute // how long the human has to answer in the client
)

// elicitationSupported reports whether the client can ask its human.
func elicitationSupported(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	if sess, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return sess.GetClientCapabilities().Elicitation != nil
	}
	return false
}

// askHuman asks the client's human to approve a pending decision, or
// returns nil when it cannot (the policy does not allow it, or the client
// cannot elicit): the request then waits in the operator's queue.
func (s *Server) askHuman(ctx context.Context, actor engine.Actor, decisionID, question string) *mcpgo.CallToolResult {
	agent, err := s.eng.GetAgent(ctx, actor, actor.AgentID)
	if err != nil || !agent.Policy.ClientApproval || !elicitationSupported(ctx) {
		return nil
	}
	return server.NewInputRequestBuilder(s.sign(decisionID, time.Now().Add(approvalRound))).
		Elicit(approvalInput, mcpgo.ElicitationParams{
			Mode:    mcpgo.ElicitationModeForm,
			Message: question,
			RequestedSchema: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"approve": map[string]any{"type": "boolean", "title": "Approve this spend", "default": false},
					"note":    map[string]any{"type": "string", "title": "Note (optional)", "maxLength": 200},
				},
				"required": []string{"approve"},
			},
		}).ToolResult()
}

// takeAnswer handles the second round of an approval: it records the
// human's answer to the decision the signed state names. Anything but an
// explicit approval (decline, cancel, approve=false, no answer) denies.
// answered is false when this call is not such a round.
func (s *Server) takeAnswer(ctx context.Context, actor engine.Actor, req mcpgo.CallToolRequest) (d *engine.Decision, answered bool, err error) {
	state := req.Params.RequestState
	if state == "" {
		return nil, false, nil
	}
	decisionID, ok := s.open(state, time.Now())
	if !ok {
		return nil, true, &engine.Error{Code: engine.CodeInvalidInput, Field: "requestState",
			Message: "requestState: this approval round has expired or was not issued by this server; call again without it"}
	}
	approve, note := false, ""
	if ans := server.ElicitationResponse(req.Params.InputResponses, approvalInput); ans != nil && ans.Action == mcpgo.ElicitationResponseActionAccept {
		content, _ := ans.Content.(map[string]any)
		approve, _ = content["approve"].(bool)
		note, _ = content["note"].(string)
	}
	name, _ := clientInfo(ctx)
	if name == "" {
		name = "unknown"
	}
	d, err = s.eng.AnswerApproval(commitContext(ctx), actor, engine.ClientAnswerInput{
		DecisionID: decisionID, Approve: approve, AnsweredBy: "mcp-client:" + name, Note: note,
	})
	return d, true, err
}

func approvalQuestion(i *engine.Intent) string {
	q := fmt.Sprintf("Your agent wants to spend %s", money(i.Amount, i.Currency))
	if i.Merchant != "" {
		q += " at " + i.Merchant
	}
	return q + fmt.Sprintf(": %q. Approve this purchase?", i.Summary)
}

func checkQuestion(d *engine.Decision) string {
	q := fmt.Sprintf("Your agent wants to spend %s (%s)", money(d.Amount, d.Currency), d.ActionType)
	if d.Merchant != "" {
		q += " at " + d.Merchant
	}
	if d.AgentReason != "" {
		q += fmt.Sprintf(": %q", d.AgentReason)
	}
	return q + ". " + d.Reason + ". Approve this spend?"
}

func answerText(d *engine.Decision) string {
	if d.ApprovalStatus == engine.ApprovalApproved || d.ApprovalStatus == engine.ApprovalExecuted {
		return "The human approved it."
	}
	return "The human did not approve it (" + d.ApprovalStatus + ")."
}

// sign makes the request state of an approval round: the decision id and an
// expiry, with an HMAC under the server's key.
func (s *Server) sign(decisionID string, expires time.Time) string {
	payload := decisionID + "|" + strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, s.stateKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// open checks a request state and returns the decision it names.
func (s *Server) open(state string, now time.Time) (string, bool) {
	p, sig, found := strings.Cut(state, ".")
	if !found {
		return "", false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return "", false
	}
	m := hmac.New(sha256.New, s.stateKey)
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return "", false
	}
	id, exp, found := strings.Cut(string(payload), "|")
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !found || err != nil || !now.Before(time.Unix(unix, 0)) {
		return "", false
	}
	return id, true
}
