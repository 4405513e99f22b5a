package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the module root, seen from this package's directory.
const repoRoot = "../.."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	stage     int // index of the FROM it belongs to
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []instruction
	stage, cur := -1, ""
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd: cmd, args: strings.TrimSpace(args), stage: stage})
		cur = ""
	}
	return out
}

// The Dockerfile has what the image needs, checked without Docker: a
// multi-stage build of a static binary, a non-root user, the /data volume,
// a health check that needs no curl, nothing fetched with ADD.
func TestDockerfileEssentials(t *testing.T) {
	assert.Empty(t, lintDockerfile(t, filepath.Join(repoRoot, "Dockerfile")))
	c := newCLI(t)
	c.ok("healthz", "--help") // the command the health check runs exists

	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	require.NoError(t, err)
	lines := strings.Split(string(ignore), "\n")
	for _, pattern := range []string{".git", "*.db", "*.key", "**/*.db", "**/*.key", "**/node_modules"} {
		assert.True(t, slices.Contains(lines, pattern), ".dockerignore keeps %s out of the build context", pattern)
	}
}

// The lint finds what it looks for.
func TestDockerfileLintFindsProblems(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "Dockerfile")
	require.NoError(t, os.WriteFile(bad, []byte(`FROM golang:1.26
ADD https://example.com/tool.tar.gz /tmp/
RUN go build -o /agentledger ./cmd/agentledger
VOLUME /var/lib
HEALTHCHECK CMD curl -f http://127.0.0.1:8765/healthz || exit 1
CMD ["serve", "--http", "0.0.0.0:8765", "--no-such-flag"]
`), 0o644))
	problems := strings.Join(lintDockerfile(t, bad), "\n")
	for _, want := range []string{"multi-stage", "CGO_ENABLED=0", "USER", "VOLUME", "HEALTHCHECK", "ADD", "ENTRYPOINT", "--no-such-flag"} {
		assert.Contains(t, problems, want)
	}
}

// lintDockerfile lists what the Dockerfile at path lacks.
func lintDockerfile(t *testing.T, path string) []string {
	t.Helper()
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	ins := parseDockerfile(t, path)
	var froms []instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
		}
	}
	if len(froms) == 0 {
		return []string{"no FROM"}
	}
	final := len(froms) - 1
	of := func(cmd string, stage int) []instruction {
		var got []instruction
		for _, in := range ins {
			if in.cmd == cmd && (stage < 0 || in.stage == stage) {
				got = append(got, in)
			}
		}
		return got
	}
	// one returns the final stage's only cmd, or "" with a problem.
	one := func(cmd string) string {
		got := of(cmd, final)
		if len(got) != 1 {
			problem("%d %s instructions in the final stage, not one", len(got), cmd)
			return ""
		}
		return got[0].args
	}
	jsonForm := func(cmd, args string) []string {
		var v []string
		if args != "" && json.Unmarshal([]byte(args), &v) != nil {
			problem("%s is not in JSON (exec) form: %s", cmd, args)
		}
		return v
	}

	buildStage := ""
	if m := regexp.MustCompile(`(?i)^\S+\s+AS\s+(\S+)$`).FindStringSubmatch(froms[0].args); len(froms) >= 2 && m != nil {
		buildStage = m[1]
	} else {
		problem("not a multi-stage build with a named build stage (FROM … AS build … FROM …)")
	}
	if strings.Contains(froms[final].args, "golang") {
		problem("the final image is a Go toolchain image: %s", froms[final].args)
	}
	static := false
	for _, in := range of("RUN", -1) {
		if strings.Contains(in.args, "go build") && strings.Contains(in.args, "CGO_ENABLED=0") {
			static = true
		}
	}
	if !static {
		problem("go build does not run with CGO_ENABLED=0 (a static binary: modernc.org/sqlite is pure Go)")
	}
	copied := false
	for _, in := range of("COPY", final) {
		copied = copied || buildStage != "" && strings.Contains(in.args, "--from="+buildStage) && strings.Contains(in.args, "/agentledger")
	}
	if !copied && buildStage != "" {
		problem("the final stage does not COPY --from=%s the binary", buildStage)
	}
	if user := strings.Fields(one("USER") + " "); len(user) > 0 {
		if name, _, _ := strings.Cut(user[0], ":"); name == "root" || name == "0" {
			problem("USER %s: the server must not run as root", user[0])
		}
	}
	if v := jsonForm("VOLUME", one("VOLUME")); !slices.Contains(v, "/data") {
		problem("no VOLUME [\"/data\"]")
	}
	if env := one("ENV"); !strings.Contains(env, "AGENTLEDGER_DB=/data/agentledger.db") ||
		!strings.Contains(env, "AGENTLEDGER_HEALTH_URL="+defaultHealthURL) {
		problem("no ENV AGENTLEDGER_DB=/data/agentledger.db AGENTLEDGER_HEALTH_URL=%s", defaultHealthURL)
	}
	if e := one("EXPOSE"); e != "8765" && e != "" {
		problem("EXPOSE %s, not 8765", e)
	}
	if health := one("HEALTHCHECK"); health != "" {
		_, check, _ := strings.Cut(health, "CMD ")
		if probe := jsonForm("HEALTHCHECK CMD", check); !slices.Equal(probe, []string{"/agentledger", "healthz"}) {
			problem("HEALTHCHECK does not run /agentledger healthz (the image has no curl or wget): %s", health)
		}
	}
	if e := jsonForm("ENTRYPOINT", one("ENTRYPOINT")); !slices.Equal(e, []string{"/agentledger"}) {
		problem("ENTRYPOINT is not [\"/agentledger\"]")
	}
	command := jsonForm("CMD", one("CMD"))
	if len(command) < 3 || !slices.Equal(command[:3], []string{"serve", "--http", "0.0.0.0:8765"}) {
		problem("CMD does not start with serve --http 0.0.0.0:8765: %v", command)
	}
	if len(command) > 0 && !slices.Contains(command, "--insecure-http") {
		problem("CMD has no --insecure-http: plain HTTP on a public address, behind a TLS-terminating proxy")
	}
	serve := (&app{getenv: func(string) string { return "" }}).serveCommand()
	for _, arg := range command {
		name, ok := strings.CutPrefix(arg, "--")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if serve.Flags().Lookup(name) == nil {
			problem("serve has no flag --%s, which the image's CMD gives", name)
		}
	}
	for _, in := range of("ADD", -1) {
		if regexp.MustCompile(`(?i)\b(https?|ftp)://|git@`).MatchString(in.args) {
			problem("ADD fetches from the network: %s", in.args)
		}
	}
	return problems
}

// With a Docker daemon, the image builds, runs as its non-root user and
// reports healthy on a fresh volume.
func TestDockerImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker on PATH")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker daemon (docker info: %v: %s)", err, daemonError(string(out)))
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	tag := "agentledger-test:" + hex.EncodeToString(suffix)
	volume, name := "agentledger-test-"+hex.EncodeToString(suffix), "agentledger-test-"+hex.EncodeToString(suffix)
	docker := func(args ...string) (string, error) {
		out, err := exec.Command("docker", args...).CombinedOutput()
		return string(out), err
	}
	out, err := docker("build", "--build-arg", "VERSION=v0.0.0-test", "-t", tag, repoRoot)
	require.NoError(t, err, "docker build: %s", out)
	t.Cleanup(func() {
		docker("rm", "-f", name)
		docker("volume", "rm", "-f", volume)
		docker("rmi", "-f", tag)
	})
	out, err = docker("run", "--rm", tag, "version", "--json")
	require.NoError(t, err, out)
	var b buildInfo
	require.NoError(t, json.Unmarshal([]byte(out), &b), out)
	assert.Equal(t, "v0.0.0-test", b.Version)
	out, err = docker("run", "--rm", "-v", volume+":/data", tag, "init", "--json")
	require.NoError(t, err, "init on a fresh volume, as the image's user: %s", out)
	out, err = docker("run", "-d", "--name", name, "-v", volume+":/data", tag)
	require.NoError(t, err, out)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err = docker("exec", name, "/agentledger", "healthz")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := docker("logs", name)
			t.Fatalf("the container never answered /healthz: %s\n%s", out, logs)
		}
		time.Sleep(time.Second)
	}
	assert.Contains(t, out, `"status":"ok"`)
	out, err = docker("exec", name, "/agentledger", "backup", "/data/backup.db")
	require.NoError(t, err, out)
	assert.Contains(t, out, "The store key is NOT in the backup")
}

// daemonError picks the line of docker info's output that says why.
func daemonError(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines {
		if strings.Contains(line, "ERROR") || strings.Contains(line, "Cannot connect") {
			return strings.TrimSpace(line)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// The example systemd unit has its hardening, and systemd-analyze verify
// (when there is one) finds nothing wrong with it.
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join(repoRoot, "examples", "systemd", "agentledger.service")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	settings := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = append(settings[k], v)
		}
	}
	for k, v := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"StateDirectory": "agentledger", "ReadWritePaths": "/var/lib/agentledger", "Restart": "on-failure",
		"Environment": "AGENTLEDGER_DB=/var/lib/agentledger/agentledger.db", "StandardOutput": "null",
	} {
		assert.Contains(t, settings[k], v, "%s=%s", k, v)
	}
	assert.True(t, len(settings["User"]) == 1 && settings["User"][0] != "root" || slices.Contains(settings["DynamicUser"], "yes"),
		"a dedicated user or DynamicUser")
	require.Len(t, settings["ExecStart"], 1)
	assert.Regexp(t, `^/usr/local/bin/agentledger serve --http 127\.0\.0\.1:\d+$`, settings["ExecStart"][0],
		"loopback, behind a reverse proxy on the host")

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze on PATH")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildBinary()
	require.NoError(t, err)
	// verify checks that the binary exists: point the unit at the built one.
	unit := filepath.Join(t.TempDir(), "agentledger.service")
	require.NoError(t, os.WriteFile(unit, bytes.ReplaceAll(raw, []byte("/usr/local/bin/agentledger"), []byte(bin)), 0o644))
	out, err := exec.Command("systemd-analyze", "verify", unit).CombinedOutput()
	require.NoError(t, err, "systemd-analyze verify: %s", out)
	for _, line := range strings.Split(string(out), "\n") {
		assert.NotContains(t, line, "agentledger.service", "systemd-analyze verify warns")
	}
}
