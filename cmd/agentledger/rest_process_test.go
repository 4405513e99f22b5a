package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/api/apitest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// capped.ai's documented Python helper, verbatim but for its API_KEY and
// BASE, runs against serve --http and gets each status in the situation
// capped.ai describes.
func TestCappedPythonHelperRunsUnchanged(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("AGENTLEDGER_E2E") != "" {
			t.Fatal("python3 is needed")
		}
		t.Skip("no python3")
	}
	if err := exec.Command(python, "-c", "import requests").Run(); err != nil {
		t.Fatal("python3 needs requests (python3-requests)")
	}
	p := newProc(t)
	p.fundedBuyer()
	var ignored any
	p.json(&ignored, "agent", "create", "agent_abc123", "--user", "acme")
	var key struct{ Key string }
	p.json(&key, "key", "create", "--agent", "agent_abc123")
	var admin struct{ Key string }
	p.json(&admin, "key", "create", "--admin")
	s := p.serveHTTP(t)

	script, err := os.ReadFile("testdata/capped/check_spend.py")
	require.NoError(t, err)
	src := string(script)
	for _, line := range []struct{ old, new string }{
		{`API_KEY = "lim_your_api_key"`, `API_KEY = "` + key.Key + `"`},
		{`BASE   = "https://capped.ai"`, `BASE   = "` + s.url + `"`},
	} {
		require.Contains(t, src, line.old)
		src = strings.Replace(src, line.old, line.new, 1)
	}
	path := filepath.Join(t.TempDir(), "check_spend.py")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	run := func() string {
		out, err := exec.Command(python, path).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	policy := func(body string) {
		rest(t, s.url, admin.Key, "PUT", "/v1/agents/agent_abc123/policy", body, http.StatusOK)
	}

	// Within every limit: approved, and the helper proceeds silently.
	policy(`{"per_transaction_limit": 50000, "daily_limit": 100000, "approval_threshold": 30000}`)
	assert.Equal(t, "", run())

	// Above the approval threshold: queued for a human in the dashboard.
	policy(`{"per_transaction_limit": 50000, "approval_threshold": 10000}`)
	out := run()
	require.True(t, strings.HasPrefix(out, "Queued for human review: dec_"), out)
	decision := strings.TrimPrefix(out, "Queued for human review: ")
	rest(t, s.url, admin.Key, "POST", "/v1/approvals/"+decision+"/approve", "", http.StatusOK)
	executed := rest(t, s.url, key.Key, "POST", "/api/v1/actions/"+decision+"/execute", "", http.StatusOK)
	assert.Equal(t, "executed", executed["approval_status"])

	// Above the per-transaction limit, with reduction allowed: capped.
	policy(`{"per_transaction_limit": 10000, "allow_reduce": true}`)
	assert.Equal(t, "Capped at: 100.0", run(), "Python prints the JSON number 100.00 as 100.0")

	// Above it without reduction: blocked, with the reason.
	policy(`{"per_transaction_limit": 10000}`)
	out = run()
	assert.True(t, strings.HasPrefix(out, "Blocked: "), out)
	assert.Contains(t, out, "$120.00")
}

// LedgerOS's documented curl creates a single-use card, with only the host
// and the key changed.
func TestLedgerOSCurlCreatesASingleUseCard(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	p := newProc(t)
	p.fundedBuyer()
	var admin struct{ Key string }
	p.json(&admin, "key", "create", "--admin")
	s := p.serveHTTP(t)
	out, err := exec.Command(curl, "-sS", "-X", "POST", s.url+"/v1/agents/buyer/cards",
		"-H", "Api-Key: "+admin.Key,
		"-H", "Content-Type: application/json",
		"-d", `{"purpose": "Buy office supplies", "type": "single", "maxAmount": 10000}`).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var card struct {
		ID, Type, Status, Purpose string
		Last4                     string `json:"last4"`
		Limits                    struct {
			LifetimeLimit int64 `json:"lifetime_limit"`
		}
	}
	require.NoError(t, json.Unmarshal(out, &card), "%s", out)
	assert.True(t, strings.HasPrefix(card.ID, "card_"), "%s", out)
	assert.Equal(t, "single_use", card.Type)
	assert.Equal(t, "active", card.Status)
	assert.Equal(t, "Buy office supplies", card.Purpose)
	assert.EqualValues(t, 10000, card.Limits.LifetimeLimit)
	assert.NotContains(t, string(out), `"pan"`)
}

// rest sends one REST request and requires the status; it returns the
// decoded object.
func rest(t *testing.T, base, key, method, path, body string, status int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	require.Equal(t, status, res.StatusCode, "%s %s: %v", method, path, out)
	doc, err := restDocument()
	require.NoError(t, err)
	require.NoError(t, doc.Check(method, req.URL.Path, res.StatusCode, raw), "the answer matches the OpenAPI document")
	return out
}

// restDocument is the REST API's OpenAPI document, compiled once.
var restDocument = sync.OnceValues(func() (*apitest.Document, error) {
	raw, err := json.Marshal(api.New(nil, api.Options{}).OpenAPI())
	if err != nil {
		return nil, err
	}
	return apitest.Load(raw)
})

// `agentledger openapi` prints the document serve --http serves, without a
// database.
func TestOpenAPICommandPrintsTheServedDocument(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var admin struct{ Key string }
	p.json(&admin, "key", "create", "--admin")
	s := p.serveHTTP(t)
	served := rest(t, s.url, admin.Key, "GET", "/v1/openapi.json", "", http.StatusOK)
	p.db = filepath.Join(t.TempDir(), "none.db")
	out, errOut, err := p.run("openapi")
	require.NoError(t, err, errOut)
	var printed map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &printed))
	assert.Equal(t, served, printed)
	assert.Equal(t, "3.1.0", printed["openapi"])
	_, err = os.Stat(p.db)
	assert.True(t, os.IsNotExist(err), "no database is created")
}

// serve --http guards the REST API as it guards /mcp: a foreign browser
// origin is refused, and a body over --max-body-bytes is 413 whatever its
// method or framing.
func TestServeGuardsTheRESTAPI(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var admin struct{ Key string }
	p.json(&admin, "key", "create", "--admin")
	s := p.serveHTTPWith(t, []string{"--max-body-bytes", "1000", "--allow-origin", "https://ops.example.com"})
	send := func(method, path, origin string, body io.Reader) (int, string) {
		req, err := http.NewRequest(method, s.url+path, body)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+admin.Key)
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(raw)
	}
	status, body := send("GET", "/v1/keys", "https://evil.example", nil)
	assert.Equal(t, http.StatusForbidden, status, body)
	status, _ = send("GET", "/v1/keys", "https://ops.example.com", nil)
	assert.Equal(t, http.StatusOK, status)
	status, _ = send("GET", "/api/agents", "", nil)
	assert.Equal(t, http.StatusOK, status, "no Origin: not a browser")

	big := `{"blocked_merchants":["` + strings.Repeat("x", 3000) + `"]}`
	for _, method := range []string{"PATCH", "PUT"} {
		// An io.Reader of unknown length is sent chunked, without Content-Length.
		status, body = send(method, "/v1/agents/buyer/policy", "", io.MultiReader(strings.NewReader(big)))
		assert.Equal(t, http.StatusRequestEntityTooLarge, status, "%s: %s", method, body)
		assert.Contains(t, body, "TOO_LARGE")
	}
	status, body = send("PATCH", "/v1/agents/buyer/policy", "", strings.NewReader(`{"daily_limit":5000}`))
	assert.Equal(t, http.StatusOK, status, body)
}

// The README's curl examples of the REST API work as printed (those that
// need no id from an earlier answer).
func TestREADMECurlExamplesWork(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	section := string(readme)
	start := strings.Index(section, "## The REST API")
	require.GreaterOrEqual(t, start, 0)
	section = section[start:]
	block := section[strings.Index(section, "```sh\n")+6:]
	block = block[:strings.Index(block, "```")]
	p := newProc(t)
	var ignored any
	p.json(&ignored, "init")
	var admin struct{ Key string }
	p.json(&admin, "key", "create", "--admin")
	s := p.serveHTTP(t)
	ran := 0
	for _, cmd := range strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n") {
		cmd = strings.TrimSpace(cmd)
		if !strings.HasPrefix(cmd, "curl ") || strings.Contains(cmd, "…") {
			continue
		}
		c := exec.Command(bash, "-c", cmd)
		c.Env = append(os.Environ(), "KEY="+admin.Key, "BASE="+s.url, "JSON=Content-Type: application/json")
		out, err := c.CombinedOutput()
		require.NoError(t, err, "%s\n%s", cmd, out)
		var answer map[string]any
		require.NoError(t, json.Unmarshal(out, &answer), "%s\n%s", cmd, out)
		assert.NotContains(t, answer, "error", "%s\n%s", cmd, out)
		ran++
	}
	assert.GreaterOrEqual(t, ran, 8)
}
