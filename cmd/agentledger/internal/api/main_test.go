package api_test

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain fails the run when an operation of the OpenAPI document answered
// no test with a 2xx: every endpoint needs a test. It checks only a full
// run (no -run filter) that passed.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && doc != nil {
		if missing := doc.Unserved(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: no test got a 2xx answer from these operations:\n")
			for _, op := range missing {
				fmt.Fprintf(os.Stderr, "  %s\n", op)
			}
			code = 1
		}
	}
	os.Exit(code)
}
