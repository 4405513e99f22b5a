package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/santhosh-tekuri/jsonschema/v6"
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
	doc    *document
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
	r.doc.check(r.t, method, req.URL.Path, a)
	return a
}

// ok sends a request as admin and requires a 200, returning the object.
func (r *rig) ok(method, path string, body any, headers ...string) map[string]any {
	r.t.Helper()
	a := r.call(method, path, r.admin, body, headers...)
	require.Equal(r.t, http.StatusOK, a.status, "%s %s: %s", method, path, a.body)
	return a.json(r.t)
}

// document is the OpenAPI document compiled for checking answers, and a
// record of which operations answered 2xx.
type document struct {
	raw      map[string]any
	compiler *jsonschema.Compiler
	routes   []route
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
	served   map[string]bool // "METHOD template" answered 2xx
}

type route struct {
	template string
	re       *regexp.Regexp
	literal  int // literal characters: the most specific template wins
}

var (
	docOnce sync.Once
	doc     *document
)

// sharedDocument compiles the document once per test binary: every rig
// serves the same one, and the coverage check reads what all tests served.
func sharedDocument(t *testing.T, h *api.Handler) *document {
	docOnce.Do(func() {
		raw, err := json.Marshal(h.OpenAPI())
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		c := jsonschema.NewCompiler()
		require.NoError(t, c.AddResource("openapi.json", m))
		d := &document{raw: m, compiler: c, schemas: map[string]*jsonschema.Schema{}, served: map[string]bool{}}
		for p := range m["paths"].(map[string]any) {
			pattern := regexp.QuoteMeta(p)
			pattern = regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(pattern, `[^/]+`)
			literal := len(regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(p, ""))
			d.routes = append(d.routes, route{template: p, re: regexp.MustCompile("^" + pattern + "$"), literal: literal})
		}
		sort.Slice(d.routes, func(i, j int) bool { return d.routes[i].literal > d.routes[j].literal })
		doc = d
	})
	return doc
}

// check validates an answer against the document: its path and status
// must be documented and its body must match the schema.
func (d *document) check(t *testing.T, method, path string, a answer) {
	t.Helper()
	template := ""
	for _, r := range d.routes {
		if r.re.MatchString(path) {
			template = r.template
			break
		}
	}
	if template == "" || a.status == http.StatusUnauthorized || a.status == http.StatusTooManyRequests {
		// Refused before routing: the error shape is all there is to check.
		if a.status >= 400 {
			d.validate(t, "openapi.json#/components/schemas/ApiError", a)
		}
		return
	}
	op, _ := d.raw["paths"].(map[string]any)[template].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if op == nil {
		require.GreaterOrEqual(t, a.status, 400, "%s %s is not documented", method, template)
		return
	}
	responses := op["responses"].(map[string]any)
	status := strconv.Itoa(a.status)
	if _, ok := responses[status]; !ok {
		require.Contains(t, responses, "default", "%s %s answered %d, which is not documented: %s", method, template, a.status, a.body)
		status = "default"
	}
	if a.status < 300 {
		d.mu.Lock()
		d.served[method+" "+template] = true
		d.mu.Unlock()
	}
	pointer := "/paths/" + escape(template) + "/" + strings.ToLower(method) + "/responses/" + status +
		"/content/application~1json/schema"
	d.validate(t, "openapi.json#"+pointer, a)
}

func (d *document) validate(t *testing.T, location string, a answer) {
	t.Helper()
	d.mu.Lock()
	s, ok := d.schemas[location]
	if !ok {
		var err error
		s, err = d.compiler.Compile(location)
		if err != nil {
			d.mu.Unlock()
			require.NoError(t, err, location)
		}
		d.schemas[location] = s
	}
	d.mu.Unlock()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(a.body))
	require.NoError(t, err, "the answer is not JSON: %s", a.body)
	require.NoError(t, s.Validate(v), "the answer does not match %s: %s", location, a.body)
}

func escape(template string) string {
	return strings.ReplaceAll(strings.ReplaceAll(template, "~", "~0"), "/", "~1")
}

// operations lists every "METHOD template" of the document.
func (d *document) operations() []string {
	var out []string
	for p, item := range d.raw["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(out)
	return out
}
