// Command pgcluster runs a command beside a throwaway PostgreSQL cluster:
// it initdb's a cluster into a temporary folder, starts it on a Unix socket
// in that folder (no TCP port), runs the command with $AGENTLEDGER_PG_URL
// naming the cluster, then stops the cluster and removes the folder.
//
//	go run ./store/postgres/pgtest/pgcluster [-durable] -- go test ./...
//
// The server binaries are found on $PATH, else in the newest
// /usr/lib/postgresql/*/bin (Debian's); $AGENTLEDGER_PG_BIN overrides. Run
// as root, the cluster belongs to the postgres user (initdb refuses root).
// Without -durable the cluster skips fsync, which tests do not need; a
// benchmark wants -durable.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/agentledger/agentledger/store/postgres/pgtest"
)

func main() {
	durable := flag.Bool("durable", false, "keep fsync on (benchmarks)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: pgcluster [-durable] -- command [args...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run(*durable, flag.Args()))
}

func run(durable bool, command []string) int {
	bin, err := pgtest.BinDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "agentledger-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	as, err := owner(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		return 1
	}
	data, logFile := filepath.Join(dir, "data"), filepath.Join(dir, "server.log")
	if out, err := server(as, filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync",
		"-E", "UTF8").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "pgcluster: initdb: %v\n%s", err, out)
		return 1
	}
	options := "-k " + dir + " -c listen_addresses='' -c max_connections=400 -c shared_buffers=128MB"
	if !durable {
		options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	pgctl := filepath.Join(bin, "pg_ctl")
	if out, err := server(as, pgctl, "start", "-w", "-D", data, "-l", logFile, "-o", options).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		fmt.Fprintf(os.Stderr, "pgcluster: pg_ctl start: %v\n%s%s", err, out, log)
		return 1
	}
	stop := func() { server(as, pgctl, "stop", "-m", "fast", "-w", "-D", data).Run() }
	defer stop()

	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "AGENTLEDGER_PG_URL=postgres://postgres@/postgres?host="+dir, "AGENTLEDGER_PG_BIN="+bin)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		return 1
	}
	go func() {
		for s := range signals {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return max(exit.ExitCode(), 1)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		return 1
	}
	return 0
}

// owner is the user the cluster runs as: ours, or postgres when we are root,
// which then gets the folder.
func owner(dir string) (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root needs a postgres user to run the cluster as (initdb refuses root)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return u, nil
}

// server is a command run as the cluster's owner.
func server(as *user.User, name string, args ...string) *exec.Cmd {
	if as == nil {
		return exec.Command(name, args...)
	}
	return exec.Command("runuser", append([]string{"-u", as.Username, "--", name}, args...)...)
}
