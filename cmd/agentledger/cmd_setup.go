package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/spf13/cobra"
)

// initResult is what init reports.
type initResult struct {
	Database string         `json:"database"`
	KeyFile  string         `json:"key_file,omitempty"`
	Created  bool           `json:"created"`
	TimeZone string         `json:"timezone"`
	AdminKey *engine.NewKey `json:"admin_key,omitempty"`
}

func (a *app) initCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the database and its key file, and print an admin API key",
		Long: `Create the database and the key file that encrypts card numbers (mode 0600),
and print an admin API key — once: only its hash is kept.

--timezone sets the organisation's time zone (default $AGENTLEDGER_TZ, else
UTC): daily and monthly windows are calendar days and months there, for every
process on the database. Change it later with 'agentledger timezone set'.

Running init again destroys nothing: an existing database and key file are
kept as they are, and no new admin key is made (use 'key create --admin').`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := a.initialize()
			if err != nil {
				return err
			}
			return a.emit(res, func(w io.Writer) {
				if !res.Created {
					fmt.Fprintf(w, "Already initialized: %s (key %s). Nothing changed.\n", res.Database, orDash(res.KeyFile))
					fmt.Fprintf(w, "Create another admin key with: %s key create --admin\n", a.invocation())
					return
				}
				fmt.Fprintf(w, "Created %s\n", res.Database)
				if res.KeyFile != "" {
					fmt.Fprintf(w, "Created key file %s (mode 0600) — back it up: without it card numbers cannot be read.\n", res.KeyFile)
				}
				fmt.Fprintf(w, "Time zone %s: daily and monthly windows are calendar days and months there.\n", res.TimeZone)
				fmt.Fprintf(w, "\nAdmin API key (shown once, store it now):\n\n  %s\n\n", res.AdminKey.Secret)
				fmt.Fprintf(w, "Next: %s quickstart\n", a.invocation())
			})
		},
	}
	cmd.Flags().StringVar(&a.timezone, "timezone", "", "the organisation's IANA time zone, e.g. Europe/Berlin (default $AGENTLEDGER_TZ, else UTC)")
	return cmd
}

// initialize creates the key file (unless $AGENTLEDGER_KEY supplies the key)
// and the database, and makes the first admin key. On an initialized
// database it changes nothing.
func (a *app) initialize() (*initResult, error) {
	res := &initResult{Database: a.dbShown()}
	_, statErr := os.Stat(a.dbPath)
	dbExists := statErr == nil
	if a.onPostgres() {
		var err error
		if dbExists, err = postgres.Initialized(a.ctx, a.dbPath); err != nil {
			return nil, err
		}
	}
	if a.getenv("AGENTLEDGER_KEY") == "" {
		res.KeyFile = absPath(a.keyPath())
		if _, err := os.Stat(a.keyPath()); errors.Is(err, os.ErrNotExist) {
			if dbExists {
				return nil, fmt.Errorf("database %s exists but its key file %s does not: restore the key file or set AGENTLEDGER_KEY; a new key could not read its cards", a.dbName(), a.keyPath())
			}
			if dir := filepath.Dir(a.keyPath()); dir != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return nil, err
				}
			}
			if _, err := sqlite.CreateKeyFile(a.keyPath()); err != nil {
				return nil, err
			}
		}
	}
	if a.timezone != "" {
		if _, err := engine.LoadTimeZone("timezone", a.timezone); err != nil {
			return nil, err
		}
	}
	if err := a.openOrCreate(); err != nil {
		return nil, err
	}
	if a.onPostgres() {
		dbExists = dbExists || !a.created // another process created it meanwhile
	}
	settings, err := a.engine.GetSettings(a.ctx, op)
	if err != nil {
		return nil, err
	}
	res.TimeZone = settings.TimeZone
	if a.timezone != "" && dbExists {
		if loc, _ := engine.LoadTimeZone("timezone", a.timezone); loc.String() != settings.TimeZone {
			return nil, fmt.Errorf("timezone: %s already exists with the time zone %s; change it with '%s timezone set %s'",
				a.dbName(), settings.TimeZone, a.invocation(), a.timezone)
		}
	}
	keys, err := a.engine.ListKeys(a.ctx, op, engine.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if dbExists && len(keys.Items) > 0 {
		return res, nil
	}
	key, err := a.engine.CreateKey(a.ctx, op, engine.CreateKeyInput{Role: engine.RoleAdmin, Name: "init"})
	if err != nil {
		return nil, err
	}
	res.Created, res.AdminKey = true, key
	return res, nil
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// Quickstart's sandbox cast.
const (
	sandboxUser  = "sandbox"
	sandboxAgent = "sandbox-agent"
	sandboxFunds = 100_000 // $1,000.00
	defaultHTTP  = "127.0.0.1:8765"
)

// sandboxPolicy is a sensible first policy: modest limits, a human for
// anything above $100, gambling and quasi-cash blocked, risk scoring on.
func sandboxPolicy() engine.Policy {
	p := func(v int64) *int64 { return &v }
	return engine.Policy{
		Currency: "USD",
		SpendLimits: engine.SpendLimits{
			PerTransactionLimit: p(50_000), DailyLimit: p(100_000), MonthlyLimit: p(500_000),
			MaxTransactionsPerDay: p(50), BlockedMCCs: []string{"6051", "7800", "7801", "7802", "7995"},
		},
		ApprovalThreshold: p(10_000),
		RiskReviewScore:   p(60),
		RiskDeclineScore:  p(90),
	}
}

// quickstartResult is what quickstart reports.
type quickstartResult struct {
	Database string         `json:"database"`
	User     *engine.User   `json:"user"`
	Agent    *engine.Agent  `json:"agent"`
	Card     *engine.Card   `json:"card"`
	Key      *engine.NewKey `json:"key"`
	Stdio    clientConfig   `json:"claude_desktop_config"`
	Remote   clientConfig   `json:"mcp_remote_config"`
	HTTPURL  string         `json:"http_url"`
}

func (a *app) quickstartCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Set up a sandbox user, agent, card and key, and print the MCP client config",
		Long: `Create (or reuse) a sandbox user (KYC approved, funded with $1,000.00), an
agent with a sensible default policy, and a multi-use card; create a new
agent API key; and print the MCP client configuration to paste into Claude
Desktop or Cursor (stdio) and for the mcp-remote bridge (HTTP).

The database is initialized first if it does not exist.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.initialize(); err != nil {
				return err
			}
			res, err := a.quickstart(addr)
			if err != nil {
				return err
			}
			return a.emit(res, func(w io.Writer) { printQuickstart(w, res, a.invocation()) })
		},
	}
	cmd.Flags().StringVar(&addr, "http", defaultHTTP, "address the HTTP MCP server will listen on, for the mcp-remote config")
	return cmd
}

func (a *app) quickstart(addr string) (*quickstartResult, error) {
	ctx, e := a.ctx, a.engine
	user, err := e.GetUser(ctx, op, sandboxUser)
	if engine.IsNotFound(err) {
		if user, err = e.CreateUser(ctx, op, engine.CreateUserInput{Name: sandboxUser, Email: "sandbox@example.com"}); err != nil {
			return nil, err
		}
		if _, err = e.FundUser(ctx, op, engine.FundInput{User: user.ID, Amount: sandboxFunds}); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, err
	}
	if user, err = e.SetKYC(ctx, op, engine.SetKYCInput{User: user.ID, Status: engine.KYCApproved}); err != nil {
		return nil, err
	}
	agent, err := e.GetAgent(ctx, op, sandboxAgent)
	if engine.IsNotFound(err) {
		policy := sandboxPolicy()
		agent, err = e.CreateAgent(ctx, op, engine.CreateAgentInput{Name: sandboxAgent, User: user.ID, Policy: &policy})
	}
	if err != nil {
		return nil, err
	}
	var card *engine.Card
	cards, err := e.ListCards(ctx, op, agent.ID, engine.Page{})
	if err != nil {
		return nil, err
	}
	for _, c := range cards.Items {
		if c.Status == engine.CardActive && c.Type == engine.CardMultiUse {
			card = c
			break
		}
	}
	if card == nil {
		if card, err = e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID, Purpose: "Sandbox purchases"}); err != nil {
			return nil, err
		}
	}
	key, err := e.CreateKey(ctx, op, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: agent.ID, Name: "quickstart"})
	if err != nil {
		return nil, err
	}
	res := &quickstartResult{Database: a.dbShown(), User: user, Agent: agent, Card: card, Key: key, HTTPURL: "http://" + addr + "/mcp"}
	res.Stdio, res.Remote = a.clientConfigs(key.Secret, res.HTTPURL)
	return res, nil
}

// clientConfig is the "mcpServers" document MCP clients read.
type clientConfig struct {
	MCPServers map[string]serverEntry `json:"mcpServers"`
}

type serverEntry struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
}

// clientConfigs are the configurations for a stdio client (Claude Desktop,
// Cursor) and for the mcp-remote bridge in front of the HTTP server.
func (a *app) clientConfigs(secret, url string) (stdio, remote clientConfig) {
	exe, err := os.Executable()
	if err != nil {
		exe = "agentledger"
	}
	env := map[string]string{"LEDGER_API_KEY": secret}
	if k := a.getenv("AGENTLEDGER_KEY"); k != "" {
		env["AGENTLEDGER_KEY"] = k
	}
	args := []string{"serve", "--stdio", "--db", a.dbShown()}
	if a.keyFile != "" {
		args = append(args, "--key-file", absPath(a.keyFile))
	}
	stdio = clientConfig{map[string]serverEntry{"agentledger": {Command: exe, Args: args, Env: env}}}
	remote = clientConfig{map[string]serverEntry{"agentledger": {
		Command: "npx",
		Args:    []string{"-y", "mcp-remote", url, "--header", "Authorization:${LEDGER_AUTH_HEADER}"},
		Env:     map[string]string{"LEDGER_AUTH_HEADER": "Bearer " + secret},
	}}}
	return stdio, remote
}

func printQuickstart(w io.Writer, r *quickstartResult, self string) {
	cur := r.Agent.Policy.Effective().Currency
	p := r.Agent.Policy.Effective()
	fmt.Fprintf(w, "Sandbox ready in %s\n\n", r.Database)
	fields(w,
		"user", fmt.Sprintf("%s (%s, KYC %s)", r.User.Name, r.User.ID, r.User.KYCStatus),
		"agent", fmt.Sprintf("%s (%s, %s)", r.Agent.Name, r.Agent.ID, r.Agent.Mode),
		"card", fmt.Sprintf("%s ····%s, %s, expires %02d/%d", r.Card.ID, r.Card.Last4, r.Card.Type, r.Card.ExpMonth, r.Card.ExpYear),
		"policy", fmt.Sprintf("%s per transaction, %s a day, human approval above %s", limit(p.PerTransactionLimit, cur), limit(p.DailyLimit, cur), limit(p.ApprovalThreshold, cur)),
		"agent API key", r.Key.Secret+"  (shown once; "+r.Key.ID+")",
	)
	stdio, _ := json.MarshalIndent(r.Stdio, "", "  ")
	remote, _ := json.MarshalIndent(r.Remote, "", "  ")
	fmt.Fprintf(w, "\nClaude Desktop (claude_desktop_config.json) or Cursor (.cursor/mcp.json), over stdio:\n\n%s\n", stdio)
	fmt.Fprintf(w, "\nThrough mcp-remote, against 'agentledger serve --http %s':\n\n%s\n", r.HTTPURL[len("http://"):len(r.HTTPURL)-len("/mcp")], remote)
	fmt.Fprintf(w, `
Try the money flow from this shell (amounts in minor units: 2500 is $25.00):

  # a charge with no declared intent is declined
  %[4]s network authorize %[1]s --amount 2500 --merchant "Office Depot"
  # declare what the agent will buy (an agent does this over MCP), and reveal the card for it
  %[4]s intent declare --agent %[2]s --card %[1]s --amount 2500 --merchant "Office Depot" --summary "Printer paper" --reveal
  # now the same charge is approved, and the intent matched
  %[4]s network authorize %[1]s --amount 2500 --merchant "OFFICE DEPOT #1138"
  %[4]s txn list --card %[1]s
  %[4]s ledger balance %[3]s
`, r.Card.ID, r.Agent.Name, r.User.Name, self)
}
