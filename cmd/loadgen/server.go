package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// target is a server under load.
type target struct {
	name        string
	url         string // http://host:port
	key         string // the Bearer key for /v1/network/authorize
	client      *http.Client
	proc        *process // the server's process, for its /proc figures
	db          string   // the server's database file
	ro          *sql.DB  // a read-only connection to it, for the pages in use
	keptAtStart int64    // its files' size when the target was made (after a checkpoint)
	answered    atomic.Int64
	runID       string // prefix of the network ids this run sends
	seq         atomic.Int64
}

// newTarget makes a target of a running server. It checkpoints the
// database's WAL first (any connection may), so that the size of its files
// is a true starting point for what the run keeps.
func newTarget(name, url, key string, proc *process, db string) (*target, error) {
	if err := checkpoint(db); err != nil {
		return nil, fmt.Errorf("%s: checkpoint: %w", name, err)
	}
	ro, err := sql.Open("sqlite", sqliteURI(db, "mode=ro", "_pragma=busy_timeout(5000)"))
	if err != nil {
		return nil, err
	}
	ro.SetMaxOpenConns(1)
	return &target{name: name, url: url, key: key, client: newHTTPClient(), proc: proc, db: db, ro: ro,
		keptAtStart: filesSize(db, db+"-wal"), runID: fmt.Sprintf("lg%x-", time.Now().UnixNano())}, nil
}

func (t *target) close() { t.ro.Close() }

func checkpoint(db string) error {
	c, err := sql.Open("sqlite", sqliteURI(db, "_pragma=busy_timeout(5000)"))
	if err != nil {
		return err
	}
	defer c.Close()
	var busy, frames, done int
	if err := c.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done); err != nil {
		return err
	}
	if busy != 0 {
		return errors.New("the database stayed busy")
	}
	return nil
}

// sqliteURI is the file URI of a database with query parameters.
func sqliteURI(path string, params ...string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + strings.Join(params, "&")
}

// newHTTPClient keeps a connection per client alive, never goes through a
// proxy and never compresses: the load measures the server, not the client.
// Requests are bounded by their contexts.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: maxInFlight, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}

// serverStats are a server's cumulative figures at one moment.
type serverStats struct {
	written int64         // bytes the process caused to be written to storage; -1 unknown
	kept    int64         // bytes of the database's pages in use; -1 unknown
	cpu     time.Duration // user and system CPU of the process; -1 unknown
	client  time.Duration // loadgen's own CPU, for what the load costs the machine; -1 unknown
}

func (t *target) stats() serverStats {
	s := serverStats{written: -1, cpu: -1, client: procCPU(os.Getpid())}
	if t.proc != nil {
		s.written, s.cpu = procWriteBytes(t.proc.pid()), procCPU(t.proc.pid())
	}
	s.kept = usedBytes(t.ro)
	return s
}

// usedBytes is the size of a database's pages in use as of its latest
// commit, WAL included: what it keeps, whatever has been checkpointed.
func usedBytes(db *sql.DB) int64 {
	if db == nil {
		return -1
	}
	var pages, free, size int64
	for _, q := range []struct {
		pragma string
		v      *int64
	}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &size}} {
		if err := db.QueryRow("PRAGMA " + q.pragma).Scan(q.v); err != nil {
			return -1
		}
	}
	return (pages - free) * size
}

func filesSize(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// procWriteBytes reads write_bytes of /proc/PID/io: what the process sent
// to the storage layer (its WAL appends and checkpoints), not what it
// wrote to sockets or pipes.
func procWriteBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// procCPU reads utime and stime of /proc/PID/stat (in USER_HZ ticks, 100 a
// second on Linux).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name may hold spaces; the fields after it do not.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * (time.Second / 100)
}

// process is a server loadgen started; its stderr is drained so that it
// never blocks, and its last lines kept for error messages.
type process struct {
	name string
	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// startServer starts a server and waits until its stderr names the address
// it listens on (the first submatch of addr).
func startServer(ctx context.Context, name string, addr *regexp.Regexp, bin string,
	args ...string) (*process, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, tail: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	found := make(chan string, 1)
	var drained sync.WaitGroup
	drained.Add(1)
	go func() {
		defer drained.Done()
		r := bufio.NewReader(stderr)
		for {
			line, err := r.ReadString('\n')
			p.tail.Write([]byte(line))
			if m := addr.FindStringSubmatch(line); m != nil {
				found <- m[1]
				break
			}
			if err != nil {
				return
			}
		}
		io.Copy(p.tail, r) // the rest: log lines, kept only as a tail
	}()
	go func() {
		drained.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	// A large database may take a while to open (migrations).
	timeout := time.NewTimer(5 * time.Minute)
	defer timeout.Stop()
	select {
	case url := <-found:
		return p, url, nil
	case <-p.done:
		return nil, "", fmt.Errorf("%s exited before listening (%v): %s", name, p.err, p.tail)
	case <-timeout.C:
	case <-ctx.Done():
	}
	p.stop()
	return nil, "", fmt.Errorf("%s did not listen: %s", name, p.tail)
}

// stop ends the server gracefully (SIGTERM), killing it if it lingers.
func (p *process) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within a minute of SIGTERM: killed", p.name)
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return fmt.Errorf("%s exited with %v: %s", p.name, p.err, p.tail)
	}
	return p.err
}

// cleanEnv is loadgen's environment without agentledger's variables, so that
// a database, key or time zone set in the shell does not leak into a run.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTLEDGER_") && !strings.HasPrefix(kv, "LEDGER_") {
			env = append(env, kv)
		}
	}
	return env
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// agentledgerAddr matches the line serve --http prints once it listens.
var agentledgerAddr = regexp.MustCompile(`MCP server on (https?://[^/\s]+)/mcp`)

// initDatabase runs `agentledger init` on a new database and returns its
// admin key and the key file it made.
func initDatabase(bin, db string) (adminKey, keyFile string, err error) {
	cmd := exec.Command(bin, "--db", db, "--json", "init")
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("agentledger init: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var res struct {
		KeyFile  string `json:"key_file"`
		AdminKey struct {
			Key string `json:"key"`
		} `json:"admin_key"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.AdminKey.Key == "" || res.KeyFile == "" {
		return "", "", fmt.Errorf("agentledger init printed no admin key and key file: %s", out)
	}
	return res.AdminKey.Key, res.KeyFile, nil
}

// startAgentledger serves a database over HTTP on a free loopback port,
// without the per-key REST rate limit (the load is one network key).
func startAgentledger(ctx context.Context, name, bin, db string, extra []string) (*process, string, error) {
	args := append([]string{"--db", db, "serve", "--http", "127.0.0.1:0", "--rate-limit", "0"}, extra...)
	return startServer(ctx, name, agentledgerAddr, bin, args...)
}
