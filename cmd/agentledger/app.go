package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/spf13/cobra"
)

// version may be set at build time with -ldflags "-X main.version=…";
// otherwise it comes from the build info (see cmd_version.go).
var version string

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed: bad input, unknown object, I/O
	exitUsage = 2 // the command line itself is wrong
)

// streams are where a run reads and writes.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// app is one invocation of the CLI: its flags, and the database it opens on
// first use.
type app struct {
	streams
	getenv func(string) string
	ctx    context.Context
	clock  engine.Clock // nil: the system clock; tests set their own
	self   string       // how the program was invoked, for printing next steps

	dbPath   string
	keyFile  string
	json     bool
	timezone string // init --timezone: the zone of a database being created
	created  bool   // the database opened was new
	// mustExist: a PostgreSQL database without agentledger's tables is
	// refused, not created (every command but init and quickstart).
	mustExist bool
	// changingTimeZone skips the $AGENTLEDGER_TZ check, for 'timezone set'.
	changingTimeZone bool
	// oauthAccessTTL is serve --oauth-token-ttl: the lifetime of the OAuth
	// access tokens the engine issues.
	oauthAccessTTL time.Duration

	db     store
	engine *engine.Engine
	// hooks carry what the engine, store and faces report to serve's log
	// and metrics.
	hooks hooks
}

// store is what commands need of either store: SQLite (a file path) or
// PostgreSQL (a postgres:// URL in --db).
type store interface {
	engine.Store
	Ping(ctx context.Context) error
	Close() error
}

// onPostgres reports whether --db names a PostgreSQL database.
func (a *app) onPostgres() bool { return postgres.IsURL(a.dbPath) }

// dbName is --db as it may be printed: a URL without its password.
func (a *app) dbName() string {
	if a.onPostgres() {
		return postgres.Redact(a.dbPath)
	}
	return a.dbPath
}

// dbShown is the database as results show it: a SQLite file's absolute
// path, or a URL without its password.
func (a *app) dbShown() string {
	if a.onPostgres() {
		return a.dbName()
	}
	return absPath(a.dbPath)
}

// usageError marks errors in the command line rather than in what it asked.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run executes one command line and returns the process exit code. Tests
// call it in-process.
func run(ctx context.Context, self string, args []string, s streams, getenv func(string) string) int {
	return (&app{streams: s, getenv: getenv, ctx: ctx, self: self}).execute(args)
}

func (a *app) execute(args []string) int {
	s := a.streams
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	cmd, err := root.ExecuteContextC(a.ctx)
	if closeErr := a.close(); err == nil {
		err = closeErr
	}
	if err == nil {
		return exitOK
	}
	var usage usageError
	isUsage := errors.As(err, &usage) || isCobraUsageError(err)
	code, msg, field := codeUsage, err.Error(), ""
	if !isUsage {
		code, msg = engine.ErrorCode(err), engine.ErrorMessage(err)
		if code == engine.CodeInternal {
			msg = err.Error() // the operator's own machine: show the real cause
		}
		var e *engine.Error
		if errors.As(err, &e) {
			field = e.Field
		}
	}
	// Cobra may fail before it has parsed --json (an unknown command or
	// flag), so the command line is looked at too.
	if a.json || jsonRequested(args) {
		var body errorJSON
		body.Error.Code, body.Error.Message, body.Error.Field = code, oneLine(msg), field
		enc := json.NewEncoder(s.err)
		enc.SetEscapeHTML(false)
		enc.Encode(body)
	} else {
		fmt.Fprintf(s.err, "error: %s", oneLine(msg))
		if isUsage && cmd != nil {
			fmt.Fprintf(s.err, " (see '%s --help')", cmd.CommandPath())
		}
		fmt.Fprintln(s.err)
	}
	if isUsage {
		return exitUsage
	}
	return exitError
}

// codeUsage is the error code under --json of a malformed command line.
const codeUsage = "USAGE"

// errorJSON is how an error prints under --json: the shape of the HTTP
// API's errors.
type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

// jsonRequested reports whether args turn --json on, as pflag would read
// them: --json or --json=BOOL before any "--", the last one winning.
func jsonRequested(args []string) bool {
	on := false
	for _, arg := range args {
		if arg == "--" {
			break
		}
		if arg == "--json" {
			on = true
		} else if v, ok := strings.CutPrefix(arg, "--json="); ok {
			b, err := strconv.ParseBool(v)
			on = err == nil && b
		}
	}
	return on
}

// isCobraUsageError recognises the errors cobra and pflag return for a
// malformed command line.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most", "required flag", "if any flags in the group"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "agentledger",
		Short: "Let AI agents spend money safely: virtual cards, intents, policies and a ledger",
		Long: `agentledger sits between a funding user and the AI agents that spend for them.
It keeps an embedded SQLite ledger, issues virtual cards to agents, makes an
agent declare what it will buy before it may see a card, and decides every
card authorization against the agent's policy.

Amounts on the command line are in minor units: --amount 1250 is $12.50.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	defaultDB := a.getenv("AGENTLEDGER_DB")
	if defaultDB == "" {
		defaultDB = "agentledger.db"
	}
	root.PersistentFlags().StringVar(&a.dbPath, "db", defaultDB,
		"database: a SQLite file, or a postgres:// URL ($AGENTLEDGER_DB)")
	root.PersistentFlags().StringVar(&a.keyFile, "key-file", "", "store key file (default: the database path with .key; $AGENTLEDGER_KEY overrides)")
	root.PersistentFlags().BoolVar(&a.json, "json", false, "print results as JSON (and errors, on stderr)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddGroup(&cobra.Group{ID: "setup", Title: "Getting started:"}, &cobra.Group{ID: "objects", Title: "Users, agents and cards:"},
		&cobra.Group{ID: "money", Title: "Spending and the ledger:"}, &cobra.Group{ID: "integrations", Title: "Integrations:"},
		&cobra.Group{ID: "operations", Title: "Operations:"})
	root.SetVersionTemplate(build.line() + "\n")
	for _, c := range []*cobra.Command{a.initCommand(), a.quickstartCommand(), a.serveCommand(), a.timezoneCommand()} {
		c.GroupID = "setup"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.userCommand(), a.agentCommand(), a.policyCommand(), a.keyCommand(), a.cardCommand(),
		a.oauthCommand()} {
		c.GroupID = "objects"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.intentCommand(), a.approvalsCommand(), a.networkCommand(), a.txnCommand(), a.ledgerCommand()} {
		c.GroupID = "money"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.webhookCommand(), a.issuerCommand(), a.openapiCommand()} {
		c.GroupID = "integrations"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.backupCommand(), a.restoreCommand(), a.pruneCommand(), a.versionCommand(), a.healthzCommand()} {
		c.GroupID = "operations"
		root.AddCommand(c)
	}
	return root
}

// keyPath is where the store key file lives.
func (a *app) keyPath() string {
	if a.keyFile != "" {
		return a.keyFile
	}
	if a.onPostgres() {
		return "agentledger.key" // beside the server; every server of a database needs the same key
	}
	return strings.TrimSuffix(a.dbPath, filepath.Ext(a.dbPath)) + ".key"
}

// loadKey finds the store key: $AGENTLEDGER_KEY, else the key file.
func (a *app) loadKey() ([]byte, error) {
	if v := a.getenv("AGENTLEDGER_KEY"); v != "" {
		k, err := sqlite.ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("AGENTLEDGER_KEY: %w", err)
		}
		return k, nil
	}
	k, err := sqlite.ReadKeyFile(a.keyPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no key file at %s (and AGENTLEDGER_KEY is not set): run 'agentledger init' first", a.keyPath())
	}
	return k, err
}

// open opens the existing database; every command but init and quickstart
// refuses to create one by accident.
func (a *app) open() error {
	if a.engine != nil {
		return nil
	}
	if a.onPostgres() {
		a.mustExist = true
		err := a.openOrCreate()
		if errors.Is(err, postgres.ErrNotInitialized) {
			return fmt.Errorf("no agentledger database at %s: run 'agentledger init' first (or pass --db)", a.dbName())
		}
		return err
	}
	if _, err := os.Stat(a.dbPath); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no database at %s: run 'agentledger init' first (or pass --db)", a.dbPath)
	}
	return a.openOrCreate()
}

func (a *app) openOrCreate() error {
	key, err := a.loadKey()
	if err != nil {
		return err
	}
	created := false
	if !a.onPostgres() {
		_, statErr := os.Stat(a.dbPath)
		created = errors.Is(statErr, os.ErrNotExist)
	}
	issuers, err := a.cardIssuers()
	if err != nil {
		return err
	}
	var db store
	if a.onPostgres() {
		db, err = postgres.Open(a.ctx, a.dbPath, postgres.Options{Key: key, MustExist: a.mustExist, OnCommit: a.hooks.committed})
	} else {
		db, err = sqlite.Open(a.dbPath, sqlite.Options{Key: key, OnCommit: a.hooks.committed})
	}
	if err != nil {
		return err
	}
	a.db, a.engine = db, engine.New(db, engine.Options{Clock: a.clock, Issuers: issuers, Observer: &a.hooks,
		OAuthAccessTTL: a.oauthAccessTTL})
	if err := a.checkTimeZone(created); err != nil {
		a.close()
		return err
	}
	return nil
}

// checkTimeZone gives a database being created its time zone (init
// --timezone, else $AGENTLEDGER_TZ, else UTC) and refuses to run with an
// $AGENTLEDGER_TZ that disagrees with the zone stored in the database: the
// zone keys every daily and monthly window, and two processes that keyed a
// charge to different days would let two charges through one day's limit.
// A database upgraded from before zones were stored has none chosen: the
// first process to open it records its $AGENTLEDGER_TZ (or UTC), and says so.
func (a *app) checkTimeZone(created bool) error {
	env := strings.TrimSpace(a.getenv("AGENTLEDGER_TZ"))
	if env != "" {
		loc, err := engine.LoadTimeZone("AGENTLEDGER_TZ", env)
		if err != nil {
			return err
		}
		env = loc.String()
	}
	settings, err := a.engine.GetSettings(a.ctx, op)
	if err != nil {
		return err
	}
	if a.onPostgres() && settings.UpdatedAt == nil {
		created = true // a new database: its zone is chosen now
	}
	a.created = created
	if created || settings.UpdatedAt == nil {
		want := cmp.Or(a.timezone, env, settings.TimeZone)
		if loc, err := engine.LoadTimeZone("timezone", want); err == nil {
			want = loc.String() // as SetTimeZone records it, to tell whose choice stood
		}
		// Only if still unset: another process starting on the same new
		// database may have chosen first, and its zone stands.
		change, err := a.engine.SetTimeZone(a.ctx, op, engine.SetTimeZoneInput{TimeZone: want, OnlyIfUnset: true})
		if err != nil {
			return err
		}
		if change.To != want {
			a.created = false
		} else if !created {
			fmt.Fprintf(a.err, "agentledger: recorded %s as the database's time zone (it had none chosen); change it with '%s timezone set'\n",
				want, a.invocation())
		}
		if settings, err = a.engine.GetSettings(a.ctx, op); err != nil {
			return err
		}
	}
	if env != "" && env != settings.TimeZone && !a.changingTimeZone {
		return fmt.Errorf("AGENTLEDGER_TZ is %s but the database's time zone is %s: every process keys daily and monthly windows "+
			"by the database's zone; unset AGENTLEDGER_TZ, or change the database's with '%s timezone set %s'",
			env, settings.TimeZone, a.invocation(), env)
	}
	return nil
}

func (a *app) close() error {
	if a.db == nil {
		return nil
	}
	err := a.db.Close()
	a.db, a.engine = nil, nil
	return err
}

// invocation is how to call this program again on the same database, for
// the commands a result suggests.
func (a *app) invocation() string {
	self := a.self
	if self == "" {
		self = "agentledger"
	}
	if a.dbPath != "agentledger.db" && a.dbPath != a.getenv("AGENTLEDGER_DB") {
		self += " --db " + shellQuote(a.dbName())
	}
	return self
}

// shellQuote quotes s for a POSIX shell when it holds anything a shell
// would read (a URL's & and ?), so that a printed command can be pasted.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@,+=%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// withEngine wraps a command body that needs the database.
func (a *app) withEngine(body func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := a.open(); err != nil {
			return err
		}
		return body(cmd, args)
	}
}

// op is the actor of the local CLI: the operator, with full rights.
var op = engine.Operator
