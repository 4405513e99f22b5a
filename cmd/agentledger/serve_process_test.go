package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve --max-body-bytes bounds request bodies on /mcp and on the issuer
// endpoints alike: a larger body, declared or chunked, gets the JSON 413.
func TestServeMaxBodyBytes(t *testing.T) {
	p := newProc(t)
	var q struct {
		Key struct{ Key string }
	}
	p.json(&q, "quickstart")
	s := p.serveHTTPWith(t, []string{"--max-body-bytes", "2048"})
	defer s.stop(t)

	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",` +
		`"capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	big := `{"pad":"` + strings.Repeat("x", 4096) + `"}`
	for _, tc := range []struct {
		name, path, body string
		chunked          bool
		status           int
	}{
		{"mcp within the limit", "/mcp", initialize, false, http.StatusOK},
		{"mcp declared", "/mcp", big, false, http.StatusRequestEntityTooLarge},
		{"mcp chunked", "/mcp", big, true, http.StatusRequestEntityTooLarge},
		{"network declared", "/v1/network/authorize", big, false, http.StatusRequestEntityTooLarge},
		{"network chunked", "/v1/network/authorize", big, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // no known length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, s.url+tc.path, body)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+q.Key.Key)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			assert.Equal(t, tc.status, res.StatusCode)
			if tc.status == http.StatusRequestEntityTooLarge {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
				assert.Equal(t, "TOO_LARGE", e.Error.Code)
				assert.Contains(t, e.Error.Message, "2048 bytes")
			}
		})
	}

	_, errOut, err := p.run("serve", "--http", "127.0.0.1:0", "--max-body-bytes", "0")
	require.Error(t, err)
	assert.Contains(t, errOut, "--max-body-bytes must be positive")
}
