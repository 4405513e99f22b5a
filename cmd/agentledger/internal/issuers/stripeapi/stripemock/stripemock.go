// Package stripemock runs stripe-mock, Stripe's own mock of its API, for
// tests. stripe-mock validates every request against Stripe's OpenAPI
// specification and answers with fixtures: it is stateless, so a test can
// assert that Stripe's schema accepts what a client sends and that the
// client decodes the answers, not that state is kept.
//
// Start builds the pinned version from the Go module proxy on first use
// (go install), caches the binary under the user's cache directory so that
// later runs start it at once, runs it on a free loopback port and stops it
// when the test ends. Recorder is a reverse proxy to put in front of it (or
// of any test server) that records the requests it forwards.
//
// When stripe-mock cannot be built or started, a test skips, with the
// reason; with AGENTLEDGER_E2E=1 (make test, CI) it fails instead.
package stripemock

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// Module is stripe-mock's Go module.
	Module = "github.com/stripe/stripe-mock"
	// Version is the stripe-mock release the tests run (it builds with the
	// project's Go). Its embedded specification is the one Spec returns.
	Version = "v0.203.0"
	// E2EEnv set to 1 turns a stripe-mock that cannot be had into a test
	// failure instead of a skip.
	E2EEnv = "AGENTLEDGER_E2E"

	buildTimeout = 10 * time.Minute
	startTimeout = 30 * time.Second
)

// Server is a running stripe-mock.
type Server struct {
	// URL is its plain-HTTP base URL on loopback, e.g. http://127.0.0.1:40123:
	// a client's API base.
	URL string
}

// Start starts a stripe-mock for t, building it first if it is not cached,
// and stops it when t ends. It skips t (fails it with AGENTLEDGER_E2E=1)
// when stripe-mock cannot be built or started.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		unavailable(t, err)
		return nil
	}
	var lastErr error
	for range 3 { // a second try only cures a process that died starting
		srv, err := start(t, bin)
		if err == nil {
			return srv
		}
		lastErr = err
	}
	unavailable(t, lastErr)
	return nil
}

// unavailable skips t, or fails it when E2EEnv is 1.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(E2EEnv) == "1" {
		t.Fatalf("stripe-mock %s is not available: %v", Version, err)
	}
	t.Skipf("stripe-mock %s is not available (%v); %s=1 makes this a failure", Version, err, E2EEnv)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of the stripe-mock binary, building it into the
// cache when it is not there yet. Test processes started together (go test
// ./...) take a file lock, so one builds and the others wait for it; the
// build goes to a temporary directory and is renamed into place, so a
// reader never sees a half-written binary.
func Binary() (string, error) {
	binOnce.Do(func() { binPath, binErr = build() })
	return binPath, binErr
}

// CacheDir is where the binary is kept: <user cache dir>/agentledger/
// stripe-mock-<version>, or under the temporary directory when the user has
// no cache directory.
func CacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil || dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "agentledger", "stripe-mock-"+Version)
}

func build() (string, error) {
	dir := CacheDir()
	name := "stripe-mock"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	bin := filepath.Join(dir, name)
	cached := func() bool {
		fi, err := os.Stat(bin)
		return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
	}
	if cached() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	unlock, err := lockBuild(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	defer unlock()
	if cached() { // built by another process while this one waited
		return bin, nil
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("cache directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	goTool, err := goCommand()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "install", Module+"@"+Version)
	// Outside any module or workspace, with no inherited -mod flag: the
	// module's own go.mod and vendor directory decide.
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %v: %s", Module, Version, err, lastLines(out, 10))
	}
	if err := os.Rename(filepath.Join(tmp, name), bin); err != nil {
		return "", fmt.Errorf("caching the binary: %w", err)
	}
	return bin, nil
}

// goCommand is the go command that runs the tests, or the one on PATH.
func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no go command on PATH to build it with")
}

// start runs bin on ephemeral loopback ports and waits until it answers.
// HTTPS gets its own ephemeral port too: stripe-mock would otherwise also
// listen for HTTPS on its fixed default port, on every interface, and a
// second instance would die for want of it.
func start(t testing.TB, bin string) (*Server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan struct{})
	stop := func() {
		cancel()
		<-exited
	}

	// stripe-mock prints where it listens, then a line per request (with
	// its parameters): the first is read, the rest discarded, never shown.
	addr := make(chan string, 1)
	var head bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if a, ok := strings.CutPrefix(line, "Listening for HTTP at address: "); ok {
				addr <- strings.TrimSpace(a)
				break
			}
			if head.Len() < 4096 {
				head.WriteString(line + "\n")
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(exited)
	}()

	var url string
	select {
	case a := <-addr:
		url = "http://" + a
	case <-exited:
		cancel()
		return nil, fmt.Errorf("stripe-mock exited before listening: %s%s", head.String(), lastLines(stderr.Bytes(), 5))
	case <-time.After(startTimeout):
		stop()
		return nil, fmt.Errorf("stripe-mock did not listen within %s", startTimeout)
	}
	if err := waitAnswers(url, exited); err != nil {
		stop()
		return nil, err
	}
	t.Cleanup(stop)
	return &Server{URL: url}, nil
}

// waitAnswers polls url until stripe-mock answers a request.
func waitAnswers(url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/issuing/cards/ic_ready", nil)
		req.Header.Set("Authorization", "Bearer sk_test_stripemock")
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("stripe-mock exited before answering")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stripe-mock did not answer within %s: %v", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Spec returns the path of the OpenAPI specification stripe-mock serves:
// the one embedded in its module, which building it has downloaded into
// the module cache.
func Spec() (string, error) {
	if _, err := Binary(); err != nil {
		return "", err
	}
	goTool, err := goCommand()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "mod", "download", "-json", Module+"@"+Version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v", Module, Version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v", Module, Version, err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", Module, Version, mod.Error)
	}
	return filepath.Join(mod.Dir, "embedded", "openapi", "spec3.json"), nil
}

// lastLines is the end of a command's output, for an error message.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
