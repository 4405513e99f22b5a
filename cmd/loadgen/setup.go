package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// admin calls agentledger's REST API with an admin key.
type admin struct {
	url, key string
	client   *http.Client
}

// callTimeout bounds an admin call, unless its context has a deadline.
const callTimeout = time.Minute

// call sends a JSON request and decodes a 2xx answer into out (when not nil).
func (a *admin) call(ctx context.Context, method, path string, body, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// population is the users and cards a run charges.
type population struct {
	Users []string  `json:"users"`
	Cards []cardRef `json:"cards"`
}

// byGroup returns the cards of one group.
func (p *population) byGroup(group string) []cardRef {
	var out []cardRef
	for _, c := range p.Cards {
		if c.Group == group {
			out = append(out, c)
		}
	}
	return out
}

// index fills in each card's user index.
func (p *population) index() error {
	users := map[string]int{}
	for i, u := range p.Users {
		users[u] = i
	}
	for i := range p.Cards {
		n, ok := users[p.Cards[i].UserID]
		if !ok {
			return fmt.Errorf("card %s belongs to user %s, who is not in the population", p.Cards[i].ID, p.Cards[i].UserID)
		}
		p.Cards[i].user = n
	}
	return nil
}

// setupWorkers is how many REST calls the set-up makes at once, so that
// the server group-commits them.
const setupWorkers = 16

// populate makes, through the REST API, users approved and funded, and an
// ordinary agent with one card for each of agents, spread over the users.
func populate(ctx context.Context, a *admin, prefix string, users, agents int) (*population, error) {
	p := &population{Users: make([]string, users), Cards: make([]cardRef, agents)}
	err := parallel(users, func(i int) error {
		var u struct{ ID string }
		if err := a.call(ctx, "POST", "/v1/users", map[string]string{"name": userName(prefix, i)}, &u); err != nil {
			return err
		}
		if err := a.call(ctx, "POST", "/v1/users/"+u.ID+"/approve", nil, nil); err != nil {
			return err
		}
		p.Users[i] = u.ID
		return a.call(ctx, "POST", "/v1/users/"+u.ID+"/fund", map[string]any{"amount": userFunds, "currency": "USD"}, nil)
	})
	if err != nil {
		return nil, err
	}
	err = parallel(agents, func(i int) error {
		var ag, card struct{ ID string }
		body := map[string]any{"name": agentName(prefix, i), "user": p.Users[i%users], "policy": policy(groupOrdinary)}
		if err := a.call(ctx, "POST", "/v1/agents", body, &ag); err != nil {
			return err
		}
		cardBody := map[string]string{"purpose": "load"}
		if err := a.call(ctx, "POST", "/v1/agents/"+ag.ID+"/cards", cardBody, &card); err != nil {
			return err
		}
		p.Cards[i] = cardRef{ID: card.ID, AgentID: ag.ID, UserID: p.Users[i%users], Group: groupOrdinary}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, p.index()
}

// networkKey makes a network key: what an issuer's adapter authorizes with.
func networkKey(ctx context.Context, a *admin) (string, error) {
	var k struct{ Key string }
	err := a.call(ctx, "POST", "/v1/keys", map[string]string{"role": "network", "name": "loadgen"}, &k)
	return k.Key, err
}

// parallel calls fn(0) … fn(n-1) from setupWorkers goroutines and returns
// the first error.
func parallel(n int, fn func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(n, setupWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // the others stop at their next step
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// balance is a user's balance as GET /v1/users/{user}/balance answers it.
type balance struct {
	Posted    int64 `json:"posted"`
	Pending   int64 `json:"pending"`
	Available int64 `json:"available"`
}

func balances(ctx context.Context, a *admin, users []string) ([]balance, error) {
	out := make([]balance, len(users))
	err := parallel(len(users), func(i int) error {
		return a.call(ctx, "GET", "/v1/users/"+url.PathEscape(users[i])+"/balance?currency=USD", nil, &out[i])
	})
	return out, err
}

// velocityUsed reads, for each agent, the spends its velocity window holds.
func velocityUsed(ctx context.Context, a *admin, agents []string) ([]int64, error) {
	out := make([]int64, len(agents))
	err := parallel(len(agents), func(i int) error {
		var p struct {
			Velocity *struct {
				Used int64 `json:"used"`
			} `json:"velocity"`
		}
		if err := a.call(ctx, "GET", "/v1/agents/"+url.PathEscape(agents[i])+"/policy", nil, &p); err != nil {
			return err
		}
		if p.Velocity != nil {
			out[i] = p.Velocity.Used
		}
		return nil
	})
	return out, err
}

// verifyLedger asks the server to check the ledger's invariants, which
// reads it all: minutes on a long history.
func verifyLedger(ctx context.Context, a *admin) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	var r struct {
		OK     bool              `json:"ok"`
		Faults []json.RawMessage `json:"faults"`
	}
	if err := a.call(ctx, "GET", "/v1/ledger/verify", nil, &r); err != nil {
		return err
	}
	if !r.OK {
		return fmt.Errorf("ledger verify found %d faults, the first: %s", len(r.Faults), firstRaw(r.Faults))
	}
	return nil
}

func firstRaw(list []json.RawMessage) string {
	if len(list) == 0 {
		return "(none listed)"
	}
	return string(list[0])
}
