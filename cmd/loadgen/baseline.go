package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

// The baseline is the yardstick of the comparison: a minimal server that
// answers POST /v1/network/authorize with the bare durable transaction an
// authorization needs — an INSERT of an agentledger-sized authorization row
// and of its event, and an UPDATE of a balance — group-committed on SQLite
// with agentledger's pragmas (WAL, synchronous=FULL). No reads, no checks:
// what the disk and SQLite allow at most.

// Baseline defaults: agentledger's sizes (an authorization row with its
// checks ≈1.4 KB, its transaction.authorized event ≈1.6 KB) and the store's
// batch bound.
const (
	defaultRowBytes   = 1400
	defaultEventBytes = 1600
	defaultMaxBatch   = 64
)

var baselineAddr = regexp.MustCompile(`baseline on (http://\S+)`)

func baselineCommand(args []string) error {
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	db := fs.String("db", "", "the database file to create (required)")
	addr := fs.String("http", "127.0.0.1:0", "listen on this address")
	accounts := fs.Int("accounts", 100, "balance rows the charges spread over")
	rowBytes := fs.Int("row-bytes", defaultRowBytes, "bytes of each authorization row")
	eventBytes := fs.Int("event-bytes", defaultEventBytes, "bytes of each event row")
	maxBatch := fs.Int("max-batch", defaultMaxBatch, "transactions one commit may carry (1: no group commit)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: loadgen baseline --db FILE [--http ADDR] [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *db == "" || *accounts <= 0 || *maxBatch <= 0 {
		fs.Usage()
		return errUsage
	}
	b, err := openBaseline(*db, *accounts, *rowBytes, *eventBytes, *maxBatch)
	if err != nil {
		return err
	}
	defer b.close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	fmt.Fprintf(os.Stderr, "baseline on http://%s (%s)\n", ln.Addr(), *db)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// baseline is the yardstick server: an http.Handler over one writer
// goroutine that group-commits.
type baseline struct {
	db         *sql.DB
	conn       *sql.Conn
	stmts      [3]*sql.Stmt // insert authorization, insert event, update balance
	accounts   int
	rowBytes   int
	eventBytes int
	maxBatch   int
	requests   chan *baselineWrite
	stopped    chan struct{}
	seq        atomic.Int64
}

type baselineWrite struct {
	id, networkID, card, account, row, event string
	amount                                   int64
	done                                     chan error
}

func openBaseline(path string, accounts, rowBytes, eventBytes, maxBatch int) (*baseline, error) {
	// The store's pragmas (store/sqlite dsn), the write lock taken at BEGIN.
	db, err := sql.Open("sqlite", sqliteURI(path, "_pragma=busy_timeout(5000)", "_pragma=foreign_keys(1)",
		"_pragma=synchronous(FULL)", "_pragma=journal_mode(WAL)", "_txlock=immediate"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	b := &baseline{db: db, accounts: accounts, rowBytes: rowBytes, eventBytes: eventBytes, maxBatch: maxBatch,
		requests: make(chan *baselineWrite, 4*maxBatch), stopped: make(chan struct{})}
	if err := b.prepare(); err != nil {
		db.Close()
		return nil, err
	}
	go b.writeLoop()
	return b, nil
}

func (b *baseline) prepare() error {
	ctx := context.Background()
	var err error
	if b.conn, err = b.db.Conn(ctx); err != nil {
		return err
	}
	// The authorization keeps agentledger's unique network id and one index
	// for a card's history; the event table is a rowid table with a unique id.
	for _, s := range []string{
		`CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, pending INTEGER NOT NULL) STRICT`,
		`CREATE TABLE IF NOT EXISTS authorizations (id TEXT PRIMARY KEY, network_id TEXT NOT NULL UNIQUE,
			card_id TEXT NOT NULL, account_id TEXT NOT NULL, amount INTEGER NOT NULL, data TEXT NOT NULL,
			created_at INTEGER NOT NULL) STRICT`,
		`CREATE INDEX IF NOT EXISTS authorizations_card ON authorizations (card_id, id)`,
		`CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
			created_at INTEGER NOT NULL, data TEXT NOT NULL) STRICT`,
	} {
		if _, err := b.conn.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	for i := range b.accounts {
		if _, err := b.conn.ExecContext(ctx, `INSERT OR IGNORE INTO accounts VALUES (?, 0)`, accountID(i)); err != nil {
			return err
		}
	}
	for i, s := range []string{
		`INSERT INTO authorizations VALUES (?, ?, ?, ?, ?, ?, ?)`,
		`INSERT INTO events (id, type, created_at, data) VALUES (?, 'transaction.authorized', ?, ?)`,
		`UPDATE accounts SET pending = pending + ? WHERE id = ?`,
	} {
		if b.stmts[i], err = b.conn.PrepareContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func accountID(i int) string { return "acct_" + strconv.Itoa(i) }

// close stops the writer and closes the database.
func (b *baseline) close() error {
	close(b.requests)
	<-b.stopped
	for _, s := range b.stmts {
		s.Close()
	}
	b.conn.Close()
	return b.db.Close()
}

// ServeHTTP decodes a charge, has the writer commit it, and answers an
// approval of agentledger's size.
func (b *baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/network/authorize" {
		http.Error(w, `{"error":{"code":"NOT_FOUND"}}`, http.StatusNotFound)
		return
	}
	var in struct {
		Card     string `json:"card"`
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
		Merchant struct {
			Name    string `json:"name"`
			MCC     string `json:"mcc"`
			Country string `json:"country"`
		} `json:"merchant"`
		NetworkID string `json:"network_id"`
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in)
	if err != nil || in.Card == "" || in.Amount <= 0 {
		http.Error(w, `{"error":{"code":"INVALID_INPUT"}}`, http.StatusBadRequest)
		return
	}
	now := time.Now().UTC()
	id := fmt.Sprintf("txn_%016x-%08x", now.UnixNano(), b.seq.Add(1))
	if in.NetworkID == "" {
		in.NetworkID = "net_" + id[4:]
	}
	h := fnv.New32a()
	h.Write([]byte(in.Card))
	doc := fmt.Sprintf(`{"id":%q,"kind":"charge","card_id":%q,"status":"approved","amount":%d,"currency":%q,`+
		`"merchant":{"name":%q,"mcc":%q,"country":%q},"network_id":%q,"created_at":%q`,
		id, in.Card, in.Amount, in.Currency, in.Merchant.Name, in.Merchant.MCC, in.Merchant.Country, in.NetworkID,
		now.Format(time.RFC3339Nano))
	req := &baselineWrite{id: id, networkID: in.NetworkID, card: in.Card, amount: in.Amount,
		account: accountID(int(h.Sum32() % uint32(b.accounts))),
		row:     padJSON(doc, b.rowBytes), event: padJSON(doc, b.eventBytes), done: make(chan error, 1)}
	b.requests <- req
	if err := <-req.done; err != nil {
		msg := `{"error":{"code":"INTERNAL","message":` + strconv.Quote(err.Error()) + `}}`
		http.Error(w, msg, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(req.event))
}

// padJSON closes a JSON object padded to about size bytes, as agentledger's
// checks and risk signals fill its rows.
func padJSON(doc string, size int) string {
	const field = `,"checks":"`
	pad := max(size-len(doc)-len(field)-2, 0)
	return doc + field + strings.Repeat("x", pad) + `"}`
}

// writeLoop is the one writer: it takes a request, and whatever else is
// already waiting (up to maxBatch), and commits them together, each in its
// own savepoint as agentledger's store does.
func (b *baseline) writeLoop() {
	defer close(b.stopped)
	for first := range b.requests {
		batch := []*baselineWrite{first}
	fill:
		for len(batch) < b.maxBatch {
			select {
			case r, ok := <-b.requests:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		errs, err := b.commit(batch)
		for i, r := range batch {
			if err != nil {
				r.done <- err
			} else {
				r.done <- errs[i]
			}
		}
	}
}

// commit writes a batch in one transaction; a request that fails is rolled
// back to its savepoint alone (errs), a failed commit fails them all (err).
func (b *baseline) commit(batch []*baselineWrite) (errs []error, err error) {
	ctx := context.Background()
	tx, err := b.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ins, ev, upd := tx.Stmt(b.stmts[0]), tx.Stmt(b.stmts[1]), tx.Stmt(b.stmts[2])
	errs = make([]error, len(batch))
	for i, r := range batch {
		now := time.Now().UnixMicro()
		if _, err := tx.ExecContext(ctx, `SAVEPOINT w`); err != nil {
			return nil, err
		}
		_, err := ins.ExecContext(ctx, r.id, r.networkID, r.card, r.account, r.amount, r.row, now)
		if err == nil {
			_, err = ev.ExecContext(ctx, "evt_"+r.id[4:], now, r.event)
		}
		if err == nil {
			_, err = upd.ExecContext(ctx, r.amount, r.account)
		}
		if err != nil {
			errs[i] = err
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO w`); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE w`); err != nil {
			return nil, err
		}
	}
	return errs, tx.Commit()
}
