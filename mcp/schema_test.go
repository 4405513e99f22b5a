package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The schema rules of the MCP Inspector's --strict lint (core/json/
// schemaLint.ts in @modelcontextprotocol/inspector 2.12.0), which the
// e2e test runs for real.
var (
	// constraining are the keywords with which a schema validates
	// something; one without any accepts every value ("untyped-schema").
	constraining = set("type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
		"exclusiveMinimum", "maxLength", "minLength", "pattern", "format", "contentMediaType",
		"contentEncoding", "contentSchema", "maxItems", "minItems", "uniqueItems", "maxContains",
		"minContains", "maxProperties", "minProperties", "required", "dependentRequired", "allOf", "anyOf",
		"oneOf", "not", "items", "prefixItems", "contains", "additionalItems", "unevaluatedItems",
		"properties", "patternProperties", "additionalProperties", "unevaluatedProperties", "propertyNames",
		"dependentSchemas", "dependencies", "$ref", "$dynamicRef", "$recursiveRef")
	// Where subschemas are: a map of them, a list of them, or one.
	schemaMaps  = []string{"properties", "patternProperties", "dependentSchemas", "dependencies", "$defs", "definitions"}
	schemaLists = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	schemaOnes  = []string{"items", "contains", "not", "propertyNames", "if", "then", "else", "additionalProperties",
		"unevaluatedProperties", "additionalItems", "unevaluatedItems", "contentSchema"}
	// booleanValued may be a bare true or false.
	booleanValued = set("additionalProperties", "unevaluatedProperties", "additionalItems", "unevaluatedItems")
)

func set(words ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}

// lint returns what the Inspector would flag in a schema, one line per
// finding: a type array, a subschema that constrains nothing, a bare
// boolean where a schema object belongs.
func lint(path string, node any, keyword string) []string {
	if b, ok := node.(bool); ok {
		if booleanValued[keyword] {
			return nil
		}
		return []string{fmt.Sprintf("%s: bare %v", path, b)}
	}
	obj, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	var found []string
	if _, isArray := obj["type"].([]any); isArray {
		found = append(found, fmt.Sprintf("%s: type is an array %v", path, obj["type"]))
	}
	constrains := false
	for k := range obj {
		constrains = constrains || constraining[k]
	}
	_, hasThen := obj["then"]
	_, hasElse := obj["else"]
	if _, hasIf := obj["if"]; hasIf && (hasThen || hasElse) {
		constrains = true
	}
	if !constrains && keyword != "not" {
		found = append(found, path+": no validation keyword")
	}
	for _, k := range schemaMaps {
		m, _ := obj[k].(map[string]any)
		for _, name := range sortedKeys(m) {
			found = append(found, lint(path+"."+k+"."+name, m[name], k)...)
		}
	}
	for _, k := range schemaLists {
		list, _ := obj[k].([]any)
		for i, sub := range list {
			found = append(found, lint(fmt.Sprintf("%s.%s[%d]", path, k, i), sub, k)...)
		}
	}
	for _, k := range schemaOnes {
		sub, ok := obj[k]
		if !ok {
			continue
		}
		if list, isList := sub.([]any); isList && k == "items" {
			for i, s := range list {
				found = append(found, lint(fmt.Sprintf("%s.%s[%d]", path, k, i), s, k)...)
			}
			continue
		}
		found = append(found, lint(path+"."+k, sub, k)...)
	}
	return found
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The lint finds what the Inspector finds (so that passing it means
// something).
func TestSchemaLint(t *testing.T) {
	for _, tc := range []struct {
		schema string
		found  []string
	}{
		{`{"properties":{"a":{"type":["integer","null"]}}}`, []string{"s.properties.a: type is an array [integer null]"}},
		{`{"properties":{"a":{"description":"anything"}}}`, []string{"s.properties.a: no validation keyword"}},
		{`{"anyOf":[{"type":"integer"},{}]}`, []string{"s.anyOf[1]: no validation keyword"}},
		{`{"type":"array","items":true}`, []string{"s.items: bare true"}},
		{`{"type":"object","additionalProperties":false}`, nil},
		{`{"not":{}}`, nil},
		{`{"if":{"const":1},"then":{"type":"integer"}}`, nil},
		{`{"anyOf":[{"type":"integer","minimum":1},{"type":"null"}],"description":"x"}`, nil},
	} {
		var s any
		require.NoError(t, json.Unmarshal([]byte(tc.schema), &s))
		assert.Equal(t, tc.found, lint("s", s, ""), tc.schema)
	}
}

// Every input and output schema that tools/list shows is portable: no
// type arrays (nullable values are anyOf a type and null), no subschema
// that accepts anything; for every kind of key.
func TestToolSchemasArePortable(t *testing.T) {
	r := newRig(t, engine.Policy{})
	for _, actor := range []engine.Actor{
		{Role: engine.RoleAgent, AgentID: r.agent.ID, KeyID: "key_agent"},
		{Role: engine.RoleAdmin, KeyID: "key_admin"},
		{Role: engine.RoleViewer, KeyID: "key_viewer"},
	} {
		tools := toolsOnTheWireAs(t, r, mcp.WithActor(context.Background(), actor))
		require.Len(t, tools, 3, actor.Role)
		for name, tool := range tools {
			for _, which := range []string{"inputSchema", "outputSchema"} {
				require.Contains(t, tool, which, "%s %s", actor.Role, name)
				assert.Empty(t, lint(name+"."+which, tool[which], ""), "%s key", actor.Role)
			}
		}
		out := tools["policy_check"]["outputSchema"].(map[string]any)
		limits := out["anyOf"].([]any)[1].(map[string]any)["properties"].(map[string]any)
		assert.Equal(t, []any{map[string]any{"type": "integer", "minimum": 1.0}, map[string]any{"type": "null"}},
			limits["per_transaction_limit"].(map[string]any)["anyOf"], "nullable is anyOf a type and null")
		assert.True(t, slices.Contains(sortedKeys(limits), "velocity"))
	}
}

// An agent key acts as its own agent, so its sessions are not offered
// agent_id; admin and viewer keys, which must pass it, are. So on every
// transport. An agent that passes agent_id anyway still works when it
// names itself, and finds nothing when it names another agent.
func TestAgentIDIsOfferedOnlyToKeysThatNeedIt(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	bob := r.env.Agent("bob", r.user, engine.Policy{})
	keys := map[string]string{
		engine.RoleAgent:  r.key,
		engine.RoleAdmin:  r.newKey(engine.CreateKeyInput{Role: engine.RoleAdmin}),
		engine.RoleViewer: r.newKey(engine.CreateKeyInput{Role: engine.RoleViewer}),
	}
	transports := map[string]func(t *testing.T, key string) *session{
		"in process": func(t *testing.T, key string) *session {
			actor, err := r.env.Engine.Authenticate(r.env.Ctx, key)
			require.NoError(t, err)
			return r.connect(actor)
		},
		"stdio": r.stdioSession,
		"http": func(t *testing.T, key string) *session {
			s, _ := r.dial(key, mcpgo.ProtocolVersion20251125)
			return s
		},
	}
	for transport, connect := range transports {
		for role, key := range keys {
			t.Run(transport+"/"+role, func(t *testing.T) {
				s := connect(t, key)
				s.t = t
				res, err := s.c.ListTools(s.ctx, mcpgo.ListToolsRequest{})
				require.NoError(t, err)
				require.Len(t, res.Tools, 3)
				for _, tool := range res.Tools {
					assert.Contains(t, tool.InputSchema.Properties, "action", tool.Name)
					_, offered := tool.InputSchema.Properties["agent_id"]
					assert.Equal(t, role != engine.RoleAgent, offered, "%s: agent_id offered", tool.Name)
				}
				if role != engine.RoleAgent {
					return
				}
				s.ok("policy_check", args{"action": "limits"}, nil)
				s.ok("policy_check", args{"action": "limits", "agent_id": r.agent.ID}, nil)
				code, _ := s.fail("policy_check", args{"action": "limits", "agent_id": bob.ID})
				assert.Equal(t, engine.CodeNotFound, code)
			})
		}
	}
}
