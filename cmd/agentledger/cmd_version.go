package main

import (
	"cmp"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// revision, like version, may be set at build time (-ldflags "-X
// main.revision=…"), for builds without VCS information such as a
// container built from a context without .git.
var revision string

// build describes this binary. init resolves version from it, so that
// everything that reports the version — --version, 'agentledger version',
// the MCP server info, the OpenAPI document, the dashboard and /healthz —
// shows the same string.
var build buildInfo

func init() {
	bi, ok := debug.ReadBuildInfo()
	build = readBuild(version, revision, bi, ok)
	version = build.Version
}

// buildInfo is what 'agentledger version --json' prints.
type buildInfo struct {
	// Version is -ldflags' main.version when set; else the module version
	// Go recorded (a tag, or a pseudo-version such as
	// v0.0.0-20260311120000-c7c5346abcde+dirty since Go 1.24, when built in
	// a git checkout); else, for a "(devel)" build, dev+REVISION (12 hex
	// digits) with -dirty when the tree had uncommitted changes; else dev.
	Version string `json:"version"`
	// Revision is the VCS commit (vcs.revision), Time its commit time
	// (vcs.time) and Modified whether the tree had uncommitted changes
	// (vcs.modified).
	Revision string `json:"revision"`
	Time     string `json:"time"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
}

func readBuild(ldVersion, ldRevision string, bi *debug.BuildInfo, ok bool) buildInfo {
	b := buildInfo{Go: runtime.Version()}
	if ok {
		if bi.GoVersion != "" {
			b.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if ldRevision != "" {
		b.Revision = ldRevision
	}
	switch {
	case ldVersion != "":
		b.Version = ldVersion
	case ok && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		b.Version = bi.Main.Version
	case b.Revision != "":
		b.Version = "dev+" + shortRevision(b.Revision)
		if b.Modified {
			b.Version += "-dirty"
		}
	default:
		b.Version = "dev"
	}
	return b
}

func shortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// line is the one-line description --version prints.
func (b buildInfo) line() string {
	var details []string
	if b.Revision != "" {
		rev := "revision " + b.Revision
		if b.Modified {
			rev += " (modified)"
		}
		details = append(details, rev)
	}
	if b.Time != "" {
		details = append(details, "committed "+b.Time)
	}
	details = append(details, b.Go)
	return fmt.Sprintf("agentledger %s (%s)", b.Version, strings.Join(details, ", "))
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print agentledger's version, VCS revision and Go version",
		Long: `Print the version, the VCS revision it was built from (with whether the tree
had uncommitted changes), the revision's commit time and the Go version; with
--json as {"version", "revision", "time", "modified", "go"}.

A version set at build time (-ldflags "-X main.version=…") wins; otherwise it
is the module version Go recorded, or dev+REVISION for a development build.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.emit(build, func(w io.Writer) {
				fmt.Fprintf(w, "agentledger %s\n", build.Version)
				if build.Revision != "" {
					fmt.Fprintf(w, "  revision:    %s", build.Revision)
					if build.Modified {
						fmt.Fprint(w, " (with uncommitted changes)")
					}
					fmt.Fprintln(w)
				}
				if build.Time != "" {
					fmt.Fprintf(w, "  commit time: %s\n", build.Time)
				}
				fmt.Fprintf(w, "  go:          %s %s/%s\n", build.Go, runtime.GOOS, runtime.GOARCH)
			})
		},
	}
}

// defaultHealthURL is where the container's HEALTHCHECK asks.
const defaultHealthURL = "http://127.0.0.1:8765/healthz"

// isLoopbackHost reports whether host names this machine's loopback.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// healthzCommand is a tiny HTTP client for health checks in images without
// curl or wget (distroless): it exits 0 when URL answers 200 with status
// "ok", and 1 otherwise.
func (a *app) healthzCommand() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:    "healthz [--url URL]",
		Short:  "Ask a server's /healthz; exit 0 when it is healthy, 1 otherwise (for container health checks)",
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usagef("--url must be an http:// or https:// URL, got %q", target)
			}
			if timeout <= 0 {
				return usagef("--timeout must be positive")
			}
			client := &http.Client{Timeout: timeout}
			if u.Scheme == "https" && isLoopbackHost(u.Hostname()) {
				// Our own process on loopback: its certificate names the
				// public host, not 127.0.0.1, and only liveness is asked.
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec
			}
			req, err := http.NewRequestWithContext(a.ctx, http.MethodGet, target, nil)
			if err != nil {
				return err
			}
			res, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("unhealthy: %w", err)
			}
			defer res.Body.Close()
			raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
			if err != nil {
				return fmt.Errorf("unhealthy: reading the answer: %w", err)
			}
			var body struct {
				Status string `json:"status"`
			}
			json.Unmarshal(raw, &body)
			if res.StatusCode != http.StatusOK || body.Status != "ok" {
				return fmt.Errorf("unhealthy: %s answered %s: %s", target, res.Status, oneLine(string(raw)))
			}
			fmt.Fprintln(a.out, strings.TrimSpace(string(raw)))
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", cmp.Or(a.getenv("AGENTLEDGER_HEALTH_URL"), defaultHealthURL),
		"the /healthz URL to ask ($AGENTLEDGER_HEALTH_URL); an https URL on loopback is asked without checking the certificate")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}
