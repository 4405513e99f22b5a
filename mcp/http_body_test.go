package mcp_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// generated is a request body of size bytes made up as it is read, so the
// client holds none of it; read counts what the server took. The content
// (zeros) does not matter: the body is refused for its size.
type generated struct {
	left int64
	read atomic.Int64
}

func (g *generated) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), g.left))
	g.left -= int64(n)
	g.read.Add(int64(n))
	return n, nil
}

// bigPost is a POST to /mcp with a generated body of size bytes; chunked
// leaves its length undeclared, as a chunked upload does.
func bigPost(key string, size int64, chunked bool, headers map[string]string) (*http.Request, *generated) {
	body := &generated{left: size}
	req := httptest.NewRequest(http.MethodPost, "/mcp", body)
	req.ContentLength = size
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, body
}

// errorCode decodes the JSON error shape of an HTTP answer.
func errorCode(t *testing.T, body io.Reader) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.NewDecoder(body).Decode(&e))
	return e.Error.Code, e.Error.Message
}

// A body over the limit is refused with 413 before it is read in full: a
// declared length at once, a chunked one where it crosses the limit. The
// key and the session are checked before anything is read.
func TestHTTPBodiesAreBounded(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	const size = 50 << 20
	for _, tc := range []struct {
		name     string
		key      string
		chunked  bool
		status   int
		code     string
		readUpTo int64
	}{
		{"declared length", r.key, false, http.StatusRequestEntityTooLarge, "TOO_LARGE", 0},
		{"chunked", r.key, true, http.StatusRequestEntityTooLarge, "TOO_LARGE", mcp.DefaultMaxBodyBytes + 1},
		{"no key, declared length", "", false, http.StatusUnauthorized, "UNAUTHORIZED", 0},
		{"no key, chunked", "", true, http.StatusUnauthorized, "UNAUTHORIZED", 0},
		{"unknown key, chunked", "al_0000", true, http.StatusUnauthorized, "UNAUTHORIZED", 0},
		{"unknown session, chunked", r.key, true, http.StatusNotFound, "NOT_FOUND", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers map[string]string
			if tc.code == "NOT_FOUND" {
				headers = map[string]string{"Mcp-Session-Id": "mcp-session-unknown"}
			}
			req, body := bigPost(tc.key, size, tc.chunked, headers)
			rec := httptest.NewRecorder()
			r.h.Handler().ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code)
			code, msg := errorCode(t, rec.Body)
			assert.Equal(t, tc.code, code)
			if tc.code == "TOO_LARGE" {
				assert.Contains(t, msg, fmt.Sprint(mcp.DefaultMaxBodyBytes), "the message names the limit")
			}
			assert.LessOrEqual(t, body.read.Load(), tc.readUpTo, "bytes read of the body")
		})
	}
}

// Eight concurrent 50 MB bodies from one agent key cost the server about
// the limit each, not what was sent.
func TestHTTPBodiesDoNotCostMemory(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	const clients, size = 8, 50 << 20
	// One request first puts the key in the key cache: eight first-time
	// lookups at once would each hold a read connection while preparing
	// the statement on another (a store/sqlite deadlock, not this test's).
	r.post(map[string]string{"Authorization": "Bearer " + r.key}, initialize)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	var read atomic.Int64
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, body := bigPost(r.key, size, i%2 == 0, nil) // half chunked, half declared
			rec := httptest.NewRecorder()
			r.h.Handler().ServeHTTP(rec, req)
			assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
			read.Add(body.read.Load())
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("sent %d MB, read %d MB, allocated %d MB", clients*size>>20, read.Load()>>20, allocated>>20)
	assert.Less(t, allocated, uint64(clients*size/10), "allocated far less than was sent")
	assert.LessOrEqual(t, read.Load(), int64(clients*(mcp.DefaultMaxBodyBytes+1)))
}

// Over real HTTP the limit is configurable, bodies within it pass, and
// both a declared and a chunked body over it get the JSON 413.
func TestHTTPMaxBodyBytesOption(t *testing.T) {
	const limit = 4096
	r := newHTTPRigWith(t, engine.Policy{}, mcp.HTTPOptions{MaxBodyBytes: limit})
	auth := map[string]string{"Authorization": "Bearer " + r.key}
	assert.Equal(t, http.StatusOK, r.post(auth, initialize).StatusCode, "a body within the limit")

	pad := `"capabilities":{},"pad":"` + strings.Repeat("x", 2*limit) + `"`
	padded := strings.Replace(initialize, `"capabilities":{}`, pad, 1)
	for _, chunked := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodPost, r.url+"/mcp", strings.NewReader(padded))
		require.NoError(t, err)
		if chunked {
			req.Body = io.NopCloser(strings.NewReader(padded)) // hides the length: sent chunked
			req.ContentLength = -1
		}
		req.Header.Set("Authorization", "Bearer "+r.key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, "chunked %v", chunked)
		assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
		code, msg := errorCode(t, res.Body)
		res.Body.Close()
		assert.Equal(t, "TOO_LARGE", code)
		assert.Contains(t, msg, "4096 bytes")
	}
}
