package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve --http serves the dashboard at /: a browser signs in with an admin
// key and sees the overview; a sign-in from another site's page is refused.
func TestServeServesTheDashboard(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var admin struct{ Key string }
	p.json(&admin, "key", "create", "--admin")
	s := p.serveHTTP(t)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	browser := &http.Client{Jar: jar}

	res, err := browser.Get(s.url + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, s.url+"/signin", res.Request.URL.String(), "signed out: to the sign-in page")
	assert.Contains(t, string(body), `name="key"`)

	res, err = browser.PostForm(s.url+"/signin", url.Values{"key": {admin.Key}})
	require.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(body), "acme", "the overview, after the redirect")
	assert.Contains(t, string(body), "buyer")

	req, err := http.NewRequest("POST", s.url+"/signin", strings.NewReader(url.Values{"key": {admin.Key}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "a foreign origin cannot sign a browser in")
}
