GO ?= go
BIN := bin/agentledger
# The database `make run` uses; any agentledger command takes --db or $AGENTLEDGER_DB.
RUN_DB ?= agentledger.db

.PHONY: build test lint bench run

# build compiles every package and the agentledger binary into bin/.
build:
	$(GO) build ./...
	$(GO) build -o $(BIN) ./cmd/agentledger

# run sets up the sandbox on the embedded default database (creating it on
# first use) and shows what to do next.
run: build
	./$(BIN) --db $(RUN_DB) quickstart

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
