package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadBuild(t *testing.T) {
	const rev = "c7c5346abcdef0123456789abcdef0123456789a"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-03-11T12:00:00Z"}, {Key: "vcs.modified", Value: modified}}
	}
	info := func(main string, settings []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/agentledger/agentledger", Version: main}, Settings: settings}
	}
	for _, tc := range []struct {
		name               string
		ldVersion, ldRev   string
		bi                 *debug.BuildInfo
		ok                 bool
		version, revision  string
		modified, withTime bool
	}{
		{name: "a development build of a clean tree", bi: info("(devel)", vcs("false")), ok: true,
			version: "dev+c7c5346abcde", revision: rev, withTime: true},
		{name: "a development build of a modified tree", bi: info("(devel)", vcs("true")), ok: true,
			version: "dev+c7c5346abcde-dirty", revision: rev, modified: true, withTime: true},
		{name: "a pseudo-version stamped by go build", bi: info("v0.0.0-20260311120000-c7c5346abcde+dirty", vcs("true")), ok: true,
			version: "v0.0.0-20260311120000-c7c5346abcde+dirty", revision: rev, modified: true, withTime: true},
		{name: "a tagged module version (go install …@v1.0.0)", bi: info("v1.0.0", nil), ok: true, version: "v1.0.0"},
		{name: "-ldflags wins", ldVersion: "1.2.3", bi: info("v1.0.0", vcs("true")), ok: true,
			version: "1.2.3", revision: rev, modified: true, withTime: true},
		{name: "-ldflags revision without VCS information", ldRev: "0123456789abcdef", bi: info("(devel)", nil), ok: true,
			version: "dev+0123456789ab", revision: "0123456789abcdef"},
		{name: "no VCS information", bi: info("(devel)", nil), ok: true, version: "dev"},
		{name: "no build information", version: "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := readBuild(tc.ldVersion, tc.ldRev, tc.bi, tc.ok)
			assert.Equal(t, tc.version, b.Version)
			assert.Equal(t, tc.revision, b.Revision)
			assert.Equal(t, tc.modified, b.Modified)
			assert.Equal(t, tc.withTime, b.Time != "")
			assert.NotEmpty(t, b.Go)
		})
	}
}

func TestVersionCommand(t *testing.T) {
	c := newCLI(t)
	var b buildInfo
	c.json(&b, "version")
	assert.Equal(t, build, b)
	assert.Equal(t, version, b.Version)
	var raw map[string]any
	c.json(&raw, "version")
	for _, k := range []string{"version", "revision", "time", "modified", "go"} {
		assert.Contains(t, raw, k)
	}
	assert.Contains(t, c.ok("version"), "agentledger "+version+"\n")
	assert.Equal(t, build.line()+"\n", c.ok("--version"))
	_, _, code := c.run("version", "extra")
	assert.Equal(t, exitUsage, code)
}

// A binary built in a git checkout reports the checkout's revision, as
// 'version --json', --version and /healthz. Go stamps VCS information only
// when the module's directory has a .git directory: in a git worktree
// (.git is a file) the test builds in a fresh clone of HEAD instead.
func TestVersionFromTheGitCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	git := func(dir string, args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git on PATH")
	}
	top, err := git(".", "rev-parse", "--show-toplevel")
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	moduleRoot := filepath.Dir(strings.TrimSpace(string(gomod)))
	rel, err := filepath.Rel(top, moduleRoot)
	require.NoError(t, err)

	checkout, wantModified, inPlace := top, false, false
	if info, err := os.Stat(filepath.Join(top, ".git")); err != nil || !info.IsDir() {
		// A worktree (or a submodule): go build would stamp nothing.
		checkout = filepath.Join(t.TempDir(), "clone")
		if _, err := git(top, "clone", "--quiet", "--no-hardlinks", top, checkout); err != nil {
			t.Skipf("cannot clone %s: %v", top, err)
		}
		head, err := git(top, "rev-parse", "HEAD")
		require.NoError(t, err)
		_, err = git(checkout, "checkout", "--quiet", "--detach", head)
		require.NoError(t, err)
	} else {
		// Go calls a tree modified when git status --porcelain says anything.
		status, err := git(top, "status", "--porcelain")
		require.NoError(t, err)
		wantModified, inPlace = status != "", true
	}
	head, err := git(checkout, "rev-parse", "HEAD")
	require.NoError(t, err)

	bin := filepath.Join(t.TempDir(), "agentledger")
	// -buildvcs=true on the command line wins over a GOFLAGS=-buildvcs=false.
	gobuild := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/agentledger")
	gobuild.Dir = filepath.Join(checkout, rel)
	out, err := gobuild.CombinedOutput()
	if err != nil && strings.Contains(string(out), "error obtaining VCS status") {
		t.Skipf("go cannot read the checkout's VCS status (git's safe.directory?): %s", out)
	}
	require.NoError(t, err, "go build: %s", out)
	if inPlace {
		// Other tests running meanwhile may have left a file in the tree.
		if status, err := git(top, "status", "--porcelain"); err != nil || (status != "") != wantModified {
			t.Log("the tree changed during the build: not checking vcs.modified")
			inPlace = false
		}
	}

	out, err = exec.Command(bin, "version", "--json").Output()
	require.NoError(t, err)
	var got buildInfo
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	assert.Equal(t, head, got.Revision, "the revision is the checkout's HEAD")
	if inPlace || checkout != top {
		assert.Equal(t, wantModified, got.Modified)
	}
	t.Logf("built in %s: %s", checkout, got.Version)
	assert.Contains(t, got.Version, head[:12], "the version names the revision")
	_, err = time.Parse(time.RFC3339, got.Time)
	assert.NoError(t, err, "the commit time %q", got.Time)
	out, err = exec.Command(bin, "--version").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "agentledger "+got.Version+" (revision "+head)

	// -ldflags still wins.
	ld := exec.Command("go", "build", "-buildvcs=true", "-ldflags", "-X main.version=v9.8.7", "-o", bin, "./cmd/agentledger")
	ld.Dir = filepath.Join(checkout, rel)
	out, err = ld.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	out, err = exec.Command(bin, "version", "--json").Output()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	assert.Equal(t, "v9.8.7", got.Version)
	assert.Equal(t, head, got.Revision)

	// And the server says the same on /healthz, and in the MCP server info.
	p := &proc{t: t, bin: bin, db: filepath.Join(t.TempDir(), "ledger.db")}
	var ignored any
	p.json(&ignored, "init")
	s := p.serveHTTP(t)
	res, err := http.Get(s.url + "/healthz")
	require.NoError(t, err)
	defer res.Body.Close()
	var health map[string]string
	require.NoError(t, json.NewDecoder(res.Body).Decode(&health))
	assert.Equal(t, map[string]string{"status": "ok", "version": "v9.8.7", "revision": head}, health)
	s.stop(t)
}

// The hidden healthz command is the container's health check: exit 0 on a
// healthy server, 1 otherwise.
func TestHealthzCommand(t *testing.T) {
	p := newProc(t)
	var ignored any
	p.json(&ignored, "init")
	s := p.serveHTTP(t)
	out, errOut, err := p.run("healthz", "--url", s.url+"/healthz")
	require.NoError(t, err, errOut)
	var health map[string]string
	require.NoError(t, json.Unmarshal([]byte(out), &health), out)
	assert.Equal(t, "ok", health["status"])
	var b buildInfo
	p.json(&b, "version")
	assert.Equal(t, b.Version, health["version"])

	_, errOut, err = p.run("healthz", "--url", s.url+"/nothing-here")
	assertExit(t, err, exitError)
	assert.Contains(t, errOut, "unhealthy")
	s.stop(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/healthz"
	ln.Close()
	_, errOut, err = p.run("healthz", "--url", closed, "--timeout", "2s")
	assertExit(t, err, exitError)
	assert.Contains(t, errOut, "unhealthy")
	_, _, err = p.run("healthz", "--url", "ftp://example/healthz")
	assertExit(t, err, exitUsage)

	// A server that answers 503 is unhealthy too.
	sick := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"unavailable"}`)
	})}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go sick.Serve(ln)
	defer sick.Close()
	_, errOut, err = p.run("healthz", "--url", "http://"+ln.Addr().String()+"/healthz")
	assertExit(t, err, exitError)
	assert.Contains(t, errOut, "503")
}

func assertExit(t *testing.T, err error, code int) {
	t.Helper()
	var exit *exec.ExitError
	if assert.ErrorAs(t, err, &exit) {
		assert.Equal(t, code, exit.ExitCode())
	}
}
