package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/api/apitest"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/require"
)

// rig is the REST API over a real engine and database on a loopback
// server, with an admin and a viewer key. Every answer it sees is checked
// against the API's own OpenAPI document.
type rig struct {
	t      *testing.T
	env    *sqlitetest.Env
	h      *api.Handler
	srv    *httptest.Server
	admin  string
	viewer string
	doc    *apitest.Document
}

func newRig(t *testing.T, opts api.Options) *rig {
	t.Helper()
	return newRigOn(t, sqlitetest.New(t), opts)
}

// newRigOn is newRig on a given database.
func newRigOn(t *testing.T, env *sqlitetest.Env, opts api.Options) *rig {
	t.Helper()
	if opts.RatePerMinute == 0 {
		opts.RatePerMinute = -1
	}
	h := api.New(env.Engine, opts)
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r := &rig{t: t, env: env, h: h, srv: srv, doc: sharedDocument(t, h)}
	r.admin = r.key(engine.CreateKeyInput{Role: engine.RoleAdmin})
	r.viewer = r.key(engine.CreateKeyInput{Role: engine.RoleViewer})
	return r
}

func (r *rig) key(in engine.CreateKeyInput) string {
	r.t.Helper()
	k, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, in)
	require.NoError(r.t, err)
	return k.Secret
}

// agentKey is a key acting as the agent.
func (r *rig) agentKey(a *engine.Agent) string {
	return r.key(engine.CreateKeyInput{Role: engine.RoleAgent, Agent: a.ID})
}

// answer is one HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as an object.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), string(a.body))
	return m
}

// code is the error code of an error answer.
func (a answer) code(t *testing.T) string {
	t.Helper()
	e, _ := a.json(t)["error"].(map[string]any)
	require.NotNil(t, e, "not an error answer: %s", a.body)
	return e["code"].(string)
}

// call sends a request with the key (none when empty); body is JSON-encoded
// unless it is a string or []byte, sent as is. headers are name, value pairs.
func (r *rig) call(method, path, key string, body any, headers ...string) answer {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(r.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	require.NoError(r.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(r.t, err)
	a := answer{status: res.StatusCode, header: res.Header, body: raw}
	require.NoError(r.t, r.doc.Check(method, req.URL.Path, a.status, a.body))
	return a
}

// ok sends a request as admin and requires a 200, returning the object.
func (r *rig) ok(method, path string, body any, headers ...string) map[string]any {
	r.t.Helper()
	a := r.call(method, path, r.admin, body, headers...)
	require.Equal(r.t, http.StatusOK, a.status, "%s %s: %s", method, path, a.body)
	return a.json(r.t)
}

var (
	docOnce sync.Once
	doc     *apitest.Document
)

// sharedDocument compiles the document once per test binary: every rig
// serves the same one, and the coverage check reads what all tests served.
func sharedDocument(t *testing.T, h *api.Handler) *apitest.Document {
	docOnce.Do(func() {
		raw, err := json.Marshal(h.OpenAPI())
		require.NoError(t, err)
		doc, err = apitest.Load(raw)
		require.NoError(t, err)
	})
	return doc
}
