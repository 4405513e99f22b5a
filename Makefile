GO ?= go
BIN := bin/agentledger
# The database and address `make run` uses; any agentledger command takes
# --db or $AGENTLEDGER_DB.
RUN_DB ?= agentledger.db
RUN_ADDR ?= 127.0.0.1:8765

.PHONY: build test e2e-deps screenshots lint bench bench-postgres run install load load-seed load-bin

# build compiles every package and the agentledger binary into bin/.
build:
	$(GO) build ./...
	$(GO) build -o $(BIN) ./cmd/agentledger

# install builds agentledger and copies it to $(PREFIX)/bin: by default
# ~/.local/bin, which needs no root (have it on your PATH). Elsewhere:
# `make install PREFIX=/usr/local`, as a user who may write there. DESTDIR is
# prepended, for packaging.
PREFIX ?= $(HOME)/.local
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/agentledger

# run sets up the sandbox on the embedded default database (creating it on
# first use), prints how to connect, and serves MCP over HTTP on 127.0.0.1
# until Ctrl-C.
run: build
	./$(BIN) --db $(RUN_DB) quickstart --http $(RUN_ADDR)
	./$(BIN) --db $(RUN_DB) serve --http $(RUN_ADDR)

# test is what CI runs: every test, with the race detector, never cached,
# including the end-to-end tests with real MCP clients from npm (installed
# here; AGENTLEDGER_E2E=1 makes a missing client a failure, not a skip).
# It starts a throwaway PostgreSQL cluster (pgcluster: initdb into a
# temporary folder, a Unix socket there, removed at the end) and runs the
# PostgreSQL store's tests, then the engine's and the faces' tests a second
# time on PostgreSQL (AGENTLEDGER_TEST_STORE=postgres); AGENTLEDGER_PG=1
# makes a missing server a failure, not a skip. To test on a server of your
# own instead, run go test with AGENTLEDGER_PG_URL set to a role that may
# create databases.
E2E := cmd/agentledger/testdata/e2e
PG_PACKAGES := ./engine/... ./mcp/... ./cmd/agentledger/internal/...
test: e2e-deps
	AGENTLEDGER_E2E=1 AGENTLEDGER_PG=1 $(GO) run ./store/postgres/pgtest/pgcluster -- sh -c '\
		$(GO) test -race -count=1 ./... && \
		AGENTLEDGER_TEST_STORE=postgres $(GO) test -race -count=1 $(PG_PACKAGES)'

e2e-deps: $(E2E)/node_modules/.package-lock.json

# screenshots runs the dashboard's browser tests (Chromium, playwright-core)
# and writes their screenshots to examples/screenshots, shown in the README.
screenshots: e2e-deps
	AGENTLEDGER_E2E=1 AGENTLEDGER_SCREENSHOTS=1 $(GO) test -count=1 -run '^TestDashboardInABrowser$$' ./cmd/agentledger

$(E2E)/node_modules/.package-lock.json: $(E2E)/package-lock.json
	npm ci --prefix $(E2E) --no-audit --no-fund --loglevel=error

lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt -l:"; echo "$$unformatted"; exit 1; fi

# bench measures authorization decisions on an on-disk database with
# synchronous=FULL beside a bare SQLite transaction of the same shape; each
# authorization line reports decisions/s and its percentage of the bare
# transaction's rate in the same run (%bare). The one-card lines charge one
# card; the 1000-cards lines 1,000 cards of 1,000 agents in turn, beside a
# bare transaction over 1,000 accounts. Serial, and with 16 clients per CPU.
BENCHTIME ?= 3s
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkDecisions' -benchtime $(BENCHTIME) ./store/sqlite/

# bench-postgres measures authorizations per second on PostgreSQL over
# 1,000 cards, serially and with 32 clients, beside pgbench's TPC-B-like
# script with as many clients on the same durable throwaway cluster in the
# same run (%pgbench). PG_BENCHTIME is each measurement's duration.
PG_BENCHTIME ?= 10s
bench-postgres:
	$(GO) run ./store/postgres/pgtest/pgcluster -durable -- \
		$(GO) test -run '^$$' -bench 'BenchmarkPostgres' -benchtime $(PG_BENCHTIME) ./store/postgres/

# load drives `agentledger serve --http` with cmd/loadgen beside its baseline
# server (the bare durable transaction, group-committed), closed-loop with 64
# clients and open-loop at 1,000/s, on a fresh database and, once load-seed
# has made it, on a database with 1,000,000 authorizations of history; it
# prints throughput, p50/p99/p99.9, bytes written and kept per authorization,
# and each figure against the speed issue's targets. About two minutes; not
# part of `make test`. LOAD_FLAGS passes flags to `loadgen run`.
LOAD_DIR ?= /tmp/agentledger-load
LOAD_HISTORY_DB ?= $(LOAD_DIR)/history-1m.db
LOAD_FLAGS ?=
load: load-bin
	$(LOAD_DIR)/loadgen run --agentledger $(LOAD_DIR)/agentledger \
		$(if $(wildcard $(LOAD_HISTORY_DB).loadgen.json),--history-db $(LOAD_HISTORY_DB)) $(LOAD_FLAGS)

# load-seed makes the history database once (through the engine; it takes
# a while: loadgen prints how long), for every later `make load`.
load-seed: load-bin
	$(LOAD_DIR)/loadgen seed --agentledger $(LOAD_DIR)/agentledger --db $(LOAD_HISTORY_DB)

load-bin:
	mkdir -p $(LOAD_DIR)
	$(GO) build -o $(LOAD_DIR)/agentledger ./cmd/agentledger
	$(GO) build -o $(LOAD_DIR)/loadgen ./cmd/loadgen
