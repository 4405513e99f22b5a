// Command loadgen measures agentledger's decision path over HTTP: it drives
// `agentledger serve --http` (POST /v1/network/authorize) closed-loop with N
// clients and open-loop at given rates, over many cards and agents, beside a
// baseline server that does the bare durable transaction of the same shape,
// and prints throughput, latency percentiles, and the bytes each
// authorization writes to disk and keeps. It also makes databases with a
// long history to measure against.
//
//	loadgen run --agentledger PATH [--history-db FILE] [flags]
//	loadgen seed --agentledger PATH --db FILE [--authorizations 1000000] [flags]
//	loadgen baseline --db FILE [--http ADDR]
//
// It is a separate program, so the product binary carries none of it.
package main

import (
	"errors"
	"fmt"
	"os"
)

// errUsage reports a mistake in the command line, already explained.
var errUsage = errors.New("usage")

// errChecks reports a run whose checks failed (errors, declines, a ledger
// fault); the report says which.
var errChecks = errors.New("checks failed")

const usage = `usage:
  loadgen run --agentledger PATH [--history-db FILE] [flags]   measure (see loadgen run -h)
  loadgen seed --agentledger PATH --db FILE [flags]            make a database with history
  loadgen baseline --db FILE [--http ADDR]                     serve the baseline (run starts it)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCommand(os.Args[2:])
	case "seed":
		err = seedCommand(os.Args[2:])
	case "baseline":
		err = baselineCommand(os.Args[2:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "loadgen: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	switch {
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, errChecks):
		os.Exit(1) // the report has said what failed
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
