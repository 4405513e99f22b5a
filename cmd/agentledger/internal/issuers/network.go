package issuers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
)

// networkActor authenticates a sandbox network request: an admin or
// network key in "Authorization: Bearer …".
func (h *Handler) networkActor(w http.ResponseWriter, r *http.Request) (engine.Actor, bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentledger"`)
		writeError(w, http.StatusUnauthorized, engine.CodeUnauthorized, "send Authorization: Bearer <admin or network key>", "")
		return engine.Actor{}, false
	}
	actor, err := h.keys.Authenticate(r.Context(), strings.TrimSpace(token))
	if err != nil {
		writeEngineError(w, err)
		return engine.Actor{}, false
	}
	mcp.NoteKey(r.Context(), actor.KeyID)
	if actor.Role != engine.RoleAdmin && actor.Role != engine.RoleNetwork {
		writeError(w, http.StatusForbidden, engine.CodeForbidden, "the network endpoints need an admin or network key, not a "+actor.Role+" key", "")
		return engine.Actor{}, false
	}
	return actor, true
}

// decodeStrict reads a JSON body into v, refusing unknown fields and
// trailing data, with an error naming what was wrong.
func (h *Handler) decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := h.readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("unexpected data after the JSON object")
	}
	if err != nil {
		field := ""
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field = typeErr.Field
			err = fmt.Errorf("%s: must be a %s", typeErr.Field, typeErr.Type)
		} else if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field = strings.Trim(name, `"`)
			err = fmt.Errorf("%s: unknown field", field)
		}
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, err.Error(), field)
		return false
	}
	return true
}

// networkAuthorizeRequest is a charge as the sandbox network presents it.
type networkAuthorizeRequest struct {
	Card      string          `json:"card"`
	CardID    string          `json:"card_id"` // the same as card
	PAN       string          `json:"pan"`
	CVV       string          `json:"cvv"`
	Amount    int64           `json:"amount"`
	Currency  string          `json:"currency"`
	Merchant  engine.Merchant `json:"merchant"`
	NetworkID string          `json:"network_id"`
}

func (h *Handler) networkAuthorize(w http.ResponseWriter, r *http.Request) {
	actor, ok := h.networkActor(w, r)
	if !ok {
		return
	}
	var req networkAuthorizeRequest
	if !h.decodeStrict(w, r, &req) {
		return
	}
	if req.Card != "" && req.CardID != "" && req.Card != req.CardID {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "card_id: give card or card_id, not two different cards", "card_id")
		return
	}
	if req.Card == "" {
		req.Card = req.CardID
	}
	a, err := h.eng.Authorize(r.Context(), actor, engine.AuthorizeInput{
		CardID: req.Card, PAN: req.PAN, CVV: req.CVV, Amount: req.Amount, Currency: req.Currency,
		Merchant: req.Merchant, NetworkID: req.NetworkID, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a) // approved or declined: the decision is the answer
}

// networkChangeRequest settles, reverses or refunds an authorization.
type networkChangeRequest struct {
	AuthorizationID string `json:"authorization_id"`
	Amount          *int64 `json:"amount"`
}

func (h *Handler) networkSettle(w http.ResponseWriter, r *http.Request) {
	h.networkChange(w, r, true, func(actor engine.Actor, req networkChangeRequest, key string) (*engine.Authorization, error) {
		return h.eng.Settle(r.Context(), actor, engine.SettleInput{AuthorizationID: req.AuthorizationID, Amount: req.Amount, IdempotencyKey: key})
	})
}

func (h *Handler) networkReverse(w http.ResponseWriter, r *http.Request) {
	h.networkChange(w, r, false, func(actor engine.Actor, req networkChangeRequest, key string) (*engine.Authorization, error) {
		return h.eng.Reverse(r.Context(), actor, engine.ReverseInput{AuthorizationID: req.AuthorizationID, IdempotencyKey: key})
	})
}

func (h *Handler) networkRefund(w http.ResponseWriter, r *http.Request) {
	h.networkChange(w, r, true, func(actor engine.Actor, req networkChangeRequest, key string) (*engine.Authorization, error) {
		return h.eng.Refund(r.Context(), actor, engine.RefundInput{AuthorizationID: req.AuthorizationID, Amount: req.Amount, IdempotencyKey: key})
	})
}

// networkChange runs a settle, reverse or refund; an Idempotency-Key header
// makes a retry return the first answer.
func (h *Handler) networkChange(w http.ResponseWriter, r *http.Request, takesAmount bool,
	do func(engine.Actor, networkChangeRequest, string) (*engine.Authorization, error)) {
	actor, ok := h.networkActor(w, r)
	if !ok {
		return
	}
	var req networkChangeRequest
	if !h.decodeStrict(w, r, &req) {
		return
	}
	if req.AuthorizationID == "" {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "authorization_id: is required", "authorization_id")
		return
	}
	if req.Amount != nil && !takesAmount {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "amount: a reversal releases the whole hold", "amount")
		return
	}
	a, err := do(actor, req, r.Header.Get("Idempotency-Key"))
	if err != nil {
		writeEngineError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}
