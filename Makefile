GO ?= go

.PHONY: build test lint bench

# build compiles every package (and, once it exists, the agentledger binary).
build:
	$(GO) build ./...

# test is what CI runs: every test, with the race detector, never cached.
test:
	$(GO) test -race -count=1 ./...

lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt -l:"; echo "$$unformatted"; exit 1; fi

# bench measures authorization decisions on an on-disk database with
# synchronous=FULL beside a bare SQLite transaction of the same shape; each
# authorization line reports decisions/s and its percentage of the bare
# transaction's rate in the same run (%bare).
BENCHTIME ?= 3s
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkDecisions' -benchtime $(BENCHTIME) ./store/sqlite/
