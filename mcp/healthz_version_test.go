package mcp_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// /healthz reports the version and revision it is given beside its status.
func TestHealthzReportsTheVersion(t *testing.T) {
	r := newHTTPRigWith(t, engine.Policy{}, mcp.HTTPOptions{Version: "v1.2.3", Revision: "c7c5346abcdef0123456789abcdef0123456789a"})
	res, err := http.Get(r.url + "/healthz")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	body, _ := io.ReadAll(res.Body)
	assert.JSONEq(t, `{"status":"ok","version":"v1.2.3","revision":"c7c5346abcdef0123456789abcdef0123456789a"}`, string(body))
}
