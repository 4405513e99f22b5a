package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freePort finds a loopback port nothing listens on.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// receiverProc is one of the example webhook receivers running as a process.
type receiverProc struct {
	mu    sync.Mutex
	lines []string
	ready chan struct{}
}

// startReceiver runs cmd (the Go or the Node example) with the endpoint's
// secret and waits until it listens.
func startReceiver(t *testing.T, cmd *exec.Cmd, secret string, port int) *receiverProc {
	t.Helper()
	cmd.Env = append(os.Environ(), "AGENTLEDGER_WEBHOOK_SECRET="+secret, "PORT="+strconv.Itoa(port))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := &receiverProc{ready: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening") {
				once.Do(func() { close(r.ready) })
			}
		}
	}()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
		}
	}()
	select {
	case <-r.ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver did not start")
	}
	return r
}

func (r *receiverProc) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// exampleReceiverTest points a webhook at an example receiver, makes two
// events, delivers them with `agentledger webhook run --once`, and checks
// that the receiver verified and printed both.
func exampleReceiverTest(t *testing.T, p *proc, command func(port int) *exec.Cmd) {
	var ignored any
	p.json(&ignored, "init")
	port := freePort(t)
	var hook struct{ Secret string }
	p.json(&hook, "webhook", "add", "http://127.0.0.1:"+strconv.Itoa(port)+"/hooks")
	r := startReceiver(t, command(port), hook.Secret, port)

	p.json(&ignored, "user", "create", "acme")
	p.json(&ignored, "user", "approve", "acme")
	p.json(&ignored, "user", "fund", "acme", "5000")
	var ran map[string]int
	p.json(&ran, "webhook", "run", "--once")
	assert.Equal(t, 2, ran["attempted"])
	require.Eventually(t, func() bool { return len(r.received()) == 2 }, 5*time.Second, 50*time.Millisecond)
	got := r.received()
	assert.Contains(t, got[0], " user.approved {")
	assert.Contains(t, got[1], ` account.funded {"user_id":"usr_`)
	var deliveries []struct{ Status string }
	p.json(&deliveries, "webhook", "deliveries")
	for _, d := range deliveries {
		assert.Equal(t, "delivered", d.Status, "the receiver answered 2xx")
	}
}

func TestGoExampleReceiver(t *testing.T) {
	p := newProc(t)
	bin := filepath.Join(t.TempDir(), "webhook-receiver")
	out, err := exec.Command("go", "build", "-o", bin, "../../examples/webhook-receiver").CombinedOutput()
	require.NoError(t, err, string(out))
	exampleReceiverTest(t, p, func(port int) *exec.Cmd {
		return exec.Command(bin, "-addr", "127.0.0.1:"+strconv.Itoa(port))
	})
}

func TestNodeExampleReceiver(t *testing.T) {
	nodeBin := node(t)
	p := newProc(t)
	exampleReceiverTest(t, p, func(port int) *exec.Cmd {
		return exec.Command(nodeBin, "../../examples/webhook-receiver/receiver.mjs")
	})
}
