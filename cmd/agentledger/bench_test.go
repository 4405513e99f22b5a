package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// BenchmarkMCP measures policy_check round trips against the built binary,
// over stdio and streamable HTTP, side by side with a no-op tool on the same
// server (the transport's own cost). Serial runs give the latency of one
// call (ns/op); parallel runs give throughput under concurrent calls. Each
// policy_check line reports its cost relative to the no-op (x-noop).
func BenchmarkMCP(b *testing.B) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	for _, tr := range []string{"stdio", "http"} {
		b.Run(tr, func(b *testing.B) {
			c, cleanup := benchClient(b, bin, tr)
			defer cleanup()
			for _, mode := range []string{"serial", "parallel"} {
				var noopNs float64
				for _, tool := range []string{"noop", "policy_check"} {
					b.Run(tool+"/"+mode, func(b *testing.B) {
						args := map[string]any{}
						if tool == "policy_check" {
							args = map[string]any{"action": "check", "action_type": "api_spend", "amount": 1, "reason": "benchmark"}
						}
						one := func() {
							var req mcp.CallToolRequest
							req.Params.Name, req.Params.Arguments = tool, args
							res, err := c.CallTool(context.Background(), req)
							if err != nil || res.IsError {
								b.Fatalf("%s: %v %+v", tool, err, res)
							}
						}
						b.ResetTimer()
						if mode == "parallel" {
							b.SetParallelism(8)
							b.RunParallel(func(pb *testing.PB) {
								for pb.Next() {
									one()
								}
							})
						} else {
							for range b.N {
								one()
							}
						}
						ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
						b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
						if tool == "noop" {
							noopNs = ns
						} else if noopNs > 0 {
							b.ReportMetric(ns/noopNs, "x-noop")
						}
					})
				}
			}
		})
	}
}

// BenchmarkStdioColdStart measures starting `serve --stdio` until the tool
// list arrives: what a desktop client waits for at launch.
func BenchmarkStdioColdStart(b *testing.B) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	db, key := benchLedger(b, bin)
	b.ResetTimer()
	for range b.N {
		c, err := client.NewStdioMCPClient(bin, []string{"AGENTLEDGER_DB=" + db, "LEDGER_API_KEY=" + key, "AGENTLEDGER_KEY="}, "serve", "--stdio")
		if err != nil {
			b.Fatal(err)
		}
		var init mcp.InitializeRequest
		init.Params.ProtocolVersion = mcp.ProtocolVersion20251125
		if _, err := c.Initialize(context.Background(), init); err != nil {
			b.Fatal(err)
		}
		if tools, err := c.ListTools(context.Background(), mcp.ListToolsRequest{}); err != nil || len(tools.Tools) != 3 {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/start")
}

// benchLedger makes a database with a funded agent without limits and an
// agent key.
func benchLedger(b *testing.B, bin string) (db, key string) {
	db = filepath.Join(b.TempDir(), "bench.db")
	runBin := func(args ...string) []byte {
		cmd := exec.Command(bin, append(args, "--json")...)
		cmd.Env = append(os.Environ(), "AGENTLEDGER_DB="+db, "AGENTLEDGER_KEY=")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%v: %v", args, err)
		}
		return out
	}
	runBin("init")
	runBin("user", "create", "bench")
	runBin("user", "approve", "bench")
	runBin("user", "fund", "bench", "100000000000")
	runBin("agent", "create", "bench-agent", "--user", "bench")
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(runBin("key", "create", "--agent", "bench-agent"), &k); err != nil {
		b.Fatal(err)
	}
	return db, k.Key
}

// benchClient starts the server (with the no-op tool) and connects to it.
func benchClient(b *testing.B, bin, tr string) (*client.Client, func()) {
	db, key := benchLedger(b, bin)
	env := []string{"AGENTLEDGER_DB=" + db, "AGENTLEDGER_KEY=", "LEDGER_API_KEY=" + key}
	ctx := context.Background()
	var c *client.Client
	var stop func()
	if tr == "stdio" {
		var err error
		if c, err = client.NewStdioMCPClient(bin, env, "serve", "--stdio", "--bench-noop-tool"); err != nil {
			b.Fatal(err)
		}
		stop = func() {}
	} else {
		cmd := exec.Command(bin, "serve", "--http", "127.0.0.1:0", "--bench-noop-tool")
		cmd.Env = append(os.Environ(), env...)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 4096)
		n, _ := stderr.Read(buf)
		line := string(buf[:n])
		start := strings.Index(line, "http://")
		end := strings.Index(line[start:], "/mcp")
		if start < 0 || end < 0 {
			b.Fatalf("unexpected serve output: %q", line)
		}
		url := line[start:start+end] + "/mcp"
		t, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + key}))
		if err != nil {
			b.Fatal(err)
		}
		c = client.NewClient(t)
		if err := c.Start(ctx); err != nil {
			b.Fatal(err)
		}
		stop = func() {
			cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
			}
		}
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "bench", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		b.Fatal(err)
	}
	return c, func() { c.Close(); stop() }
}
