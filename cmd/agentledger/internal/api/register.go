package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/danielgtaylor/huma/v2"
)

// errorStatuses are the error answers every operation documents.
var errorStatuses = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
	http.StatusNotAcceptable, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
	http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable}

// response is an operation's answer: a JSON body.
type response[T any] struct {
	Body T
}

// register adds one operation: fn gets the request's actor and the decoded
// input, and its result is the body.
func register[I, O any](h *Handler, op huma.Operation, fn func(ctx context.Context, actor engine.Actor, in *I) (O, error)) {
	op.Errors = errorStatuses
	op.MaxBodyBytes = h.maxBody
	if op.DefaultStatus == 0 {
		op.DefaultStatus = http.StatusOK
	}
	huma.Register(h.api, op, func(ctx context.Context, in *I) (*response[O], error) {
		out, err := fn(ctx, actorFrom(ctx), in)
		if err != nil {
			return nil, h.fail(ctx, err)
		}
		return &response[O]{Body: out}, nil
	})
}

// Idempotency is the Idempotency-Key header every POST and PATCH takes.
type Idempotency struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes a retry safe: the same key with the same request returns the first result; with another request it is 409 IDEMPOTENCY_CONFLICT. Keys are scoped to the API key."`
}

// PageQuery is a list's cursor: Stripe's limit and starting_after.
type PageQuery struct {
	Limit         int    `query:"limit" minimum:"1" maximum:"100" default:"10" doc:"How many objects to return, 1 to 100."`
	StartingAfter string `query:"starting_after" maxLength:"200" doc:"The id of the last object of the previous page: the list continues after it."`
}

func (p PageQuery) page() engine.Page {
	return engine.Page{Limit: p.Limit, StartingAfter: p.StartingAfter}
}

// list is one page of a list, Stripe's shape.
type list[T any] struct {
	Object  string `json:"object" enum:"list" doc:"Always \"list\"."`
	Data    []*T   `json:"data" nullable:"false" doc:"The objects of this page, in the list's order."`
	HasMore bool   `json:"has_more" doc:"Whether more objects follow: ask again with starting_after set to the last id."`
}

func listOf[T any](l engine.List[T]) list[T] {
	data := l.Items
	if data == nil {
		data = []*T{}
	}
	return list[T]{Object: "list", Data: data, HasMore: l.HasMore}
}

// decodePatch reads a JSON merge patch (an object) field by field.
func decodePatch(raw []byte) (map[string]json.RawMessage, error) {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(raw, &patch); err != nil || patch == nil {
		return nil, &engine.Error{Code: engine.CodeInvalidInput, Message: "the body must be a JSON object of policy fields"}
	}
	return patch, nil
}

// policyBody is a policy as a request gives it: every field may be left
// out (no limit, or the default).
type policyBody engine.Policy

// TransformSchema makes every field optional.
func (policyBody) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	s.Required = nil
	return s
}

// limitsBody is a card's own limits as a request gives them, every field
// optional.
type limitsBody engine.SpendLimits

// TransformSchema makes every field optional.
func (limitsBody) TransformSchema(_ huma.Registry, s *huma.Schema) *huma.Schema {
	s.Required = nil
	return s
}

// nullableStructPointers documents as nullable every pointer-to-struct field
// that encodes as null when nil (no omitempty), such as a policy's
// velocity: huma types such a field as the struct alone.
func nullableStructPointers(r huma.Registry) {
	for name, s := range r.Map() {
		t := r.TypeFromRef(schemaPrefix + name)
		if t == nil || t.Kind() != reflect.Struct {
			continue
		}
		for _, f := range reflect.VisibleFields(t) {
			if f.Anonymous || !f.IsExported() || f.Type.Kind() != reflect.Pointer ||
				f.Type.Elem().Kind() != reflect.Struct || f.Type.Elem() == reflect.TypeFor[time.Time]() {
				continue
			}
			jsonName, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if jsonName == "" || jsonName == "-" || strings.Contains(opts, "omitempty") {
				continue
			}
			if p := s.Properties[jsonName]; p != nil && p.Ref != "" {
				n := &huma.Schema{Description: p.Description,
					AnyOf: []*huma.Schema{{Ref: p.Ref}, {Type: "null"}}}
				n.PrecomputeMessages()
				s.Properties[jsonName] = n
			}
		}
	}
}

// schemaPrefix is where huma keeps the document's schemas.
const schemaPrefix = "#/components/schemas/"
