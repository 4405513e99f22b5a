package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Load modes.
const (
	modeClosed = "closed" // N clients, each sending its next request when the last is answered
	modeOpen   = "open"   // requests sent on a fixed schedule, whether or not earlier ones were answered
)

// maxInFlight bounds an open-loop run's outstanding requests; a request due
// beyond it is not sent and counted as missed, which the report shows.
const maxInFlight = 4096

// phase is one measured stretch of load on one target.
type phase struct {
	Name     string
	Mode     string
	Clients  int     // closed loop
	Rate     float64 // open loop: requests a second
	Warmup   time.Duration
	Duration time.Duration
	Requests int64 // stop after this many measured requests; 0: no cap
	Cards    []cardRef
	Users    int // how many users the cards belong to (indexes cardRef.user)
}

// result is what one phase measured on one target.
type result struct {
	Target       string           `json:"target"`
	Phase        string           `json:"phase"`
	Round        int              `json:"round"`
	Mode         string           `json:"mode"`
	Clients      int              `json:"clients,omitempty"`
	Rate         float64          `json:"offered_per_second,omitempty"`
	Cards        int              `json:"cards"`
	Requests     int64            `json:"requests"`
	Approved     int64            `json:"approved"`
	Declined     int64            `json:"declined"`
	Errors       int64            `json:"errors"`
	Missed       int64            `json:"missed"` // open loop: due but not sent (maxInFlight reached)
	DeclineCodes map[string]int64 `json:"decline_codes,omitempty"`
	FirstError   string           `json:"first_error,omitempty"`
	Seconds      float64          `json:"seconds"`
	Throughput   float64          `json:"per_second"` // answered authorizations a second
	P50Ms        float64          `json:"p50_ms"`
	P99Ms        float64          `json:"p99_ms"`
	P999Ms       float64          `json:"p999_ms"`
	MaxMs        float64          `json:"max_ms"`
	// Disk and CPU of the server process over the measured window, per
	// answered authorization; -1 when /proc could not be read.
	WrittenPerAuth float64 `json:"written_bytes_per_auth"`
	KeptPerAuth    float64 `json:"kept_bytes_per_auth"`
	CPUPerAuthUs   float64 `json:"server_cpu_us_per_auth"`
	ClientCPUUs    float64 `json:"loadgen_cpu_us_per_auth"` // the load's own share of the two cores

	approvedByUser []int64 // minor units approved per user, warm-up included, for the ledger check
}

// recorder gathers one phase's outcomes from every client goroutine.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	res       *result
}

// add records an outcome. Every approval is tallied for the ledger check,
// but only a measured request (not a warm-up one) counts in the figures.
func (r *recorder) add(took time.Duration, o outcome, user int, amount int64, measured bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.approved {
		r.res.approvedByUser[user] += amount
	}
	if !measured {
		return
	}
	r.res.Requests++
	switch {
	case o.err != nil:
		r.res.Errors++
		if r.res.FirstError == "" {
			r.res.FirstError = o.err.Error()
		}
		return // an error has no meaningful latency
	case o.approved:
		r.res.Approved++
	default:
		r.res.Declined++
		r.res.DeclineCodes[o.code]++
	}
	r.latencies = append(r.latencies, took)
}

// outcome is a server's answer to one authorization.
type outcome struct {
	approved bool
	code     string // the decline code of a decline
	err      error  // no decision: a transport error or a non-200 answer
}

// client is what each client goroutine keeps between requests.
type client struct {
	t    *target
	rnd  *rand.Rand
	body []byte
	resp bytes.Buffer
	pool []merchant
}

func newClient(t *target, seed uint64) *client {
	return &client{t: t, rnd: rand.New(rand.NewPCG(seed, 0x10ad)), pool: merchantPool()}
}

// charge sends one authorization for a random card of cards.
func (c *client) charge(ctx context.Context, cards []cardRef) (int, int64, outcome) {
	i := c.rnd.IntN(len(cards))
	amount := chargeAmount(c.rnd)
	networkID := c.t.runID + strconv.FormatInt(c.t.seq.Add(1), 10)
	c.body = authorizeBody(c.body[:0], cards[i].ID, amount, merchantFor(c.pool, i, c.rnd), networkID)
	return cards[i].user, amount, c.t.authorize(ctx, c.body, &c.resp)
}

// drive runs a phase against a target and measures it.
func drive(ctx context.Context, t *target, ph phase) (*result, error) {
	if len(ph.Cards) == 0 {
		return nil, fmt.Errorf("%s: no cards to charge", ph.Name)
	}
	res := &result{Target: t.name, Phase: ph.Name, Mode: ph.Mode, Clients: ph.Clients, Rate: ph.Rate,
		Cards: len(ph.Cards), DeclineCodes: map[string]int64{}, approvedByUser: make([]int64, ph.Users)}
	rec := &recorder{res: res}
	var measuring atomic.Bool
	var before, after serverStats
	var measureStart time.Time
	// mark starts the measured window once the warm-up is over.
	mark := func() {
		before = t.stats()
		measureStart = time.Now()
		measuring.Store(true)
	}
	var err error
	switch ph.Mode {
	case modeClosed:
		err = driveClosed(ctx, t, ph, rec, &measuring, mark)
	case modeOpen:
		err = driveOpen(ctx, t, ph, rec, &measuring, mark)
	default:
		err = fmt.Errorf("unknown mode %q", ph.Mode)
	}
	if err != nil {
		return nil, err
	}
	after = t.stats()
	res.Seconds = time.Since(measureStart).Seconds()
	answered := res.Approved + res.Declined
	res.Throughput = float64(answered) / res.Seconds
	slices.Sort(rec.latencies)
	res.P50Ms, res.P99Ms, res.P999Ms = millis(quantile(rec.latencies, 0.5)), millis(quantile(rec.latencies, 0.99)),
		millis(quantile(rec.latencies, 0.999))
	if n := len(rec.latencies); n > 0 {
		res.MaxMs = millis(rec.latencies[n-1])
	}
	res.WrittenPerAuth, res.KeptPerAuth, res.CPUPerAuthUs, res.ClientCPUUs = -1, -1, -1, -1
	if answered > 0 {
		if before.written >= 0 && after.written >= 0 {
			res.WrittenPerAuth = float64(after.written-before.written) / float64(answered)
		}
		if before.kept >= 0 && after.kept >= 0 {
			res.KeptPerAuth = float64(after.kept-before.kept) / float64(answered)
		}
		perAuth := func(a, b time.Duration) float64 {
			if a < 0 || b < 0 {
				return -1
			}
			return float64(b-a) / float64(time.Microsecond) / float64(answered)
		}
		res.CPUPerAuthUs, res.ClientCPUUs = perAuth(before.cpu, after.cpu), perAuth(before.client, after.client)
	}
	return res, nil
}

// driveClosed runs ph.Clients clients, each sending its next request as
// soon as the last is answered.
func driveClosed(ctx context.Context, t *target, ph phase, rec *recorder, measuring *atomic.Bool, mark func()) error {
	start := time.Now()
	stop := start.Add(ph.Warmup + ph.Duration)
	var measured atomic.Int64
	var wg sync.WaitGroup
	for n := range ph.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, uint64(n)+1)
			for ctx.Err() == nil && time.Now().Before(stop) {
				counted := measuring.Load()
				if counted && ph.Requests > 0 && measured.Add(1) > ph.Requests {
					return
				}
				sent := time.Now()
				user, amount, o := c.charge(ctx, ph.Cards)
				rec.add(time.Since(sent), o, user, amount, counted)
			}
		}()
	}
	markAfter(ctx, ph.Warmup, mark)
	wg.Wait()
	return ctx.Err()
}

// driveOpen sends requests at ph.Rate a second on a fixed schedule. Each
// latency runs from when the request was due, not from when it was sent, so
// that a stalled server is not hidden by requests held back (coordinated
// omission).
func driveOpen(ctx context.Context, t *target, ph phase, rec *recorder, measuring *atomic.Bool, mark func()) error {
	if ph.Rate <= 0 {
		return fmt.Errorf("%s: the rate must be positive", ph.Name)
	}
	interval := time.Duration(float64(time.Second) / ph.Rate)
	start := time.Now()
	warmupN := int64(ph.Warmup / interval)
	total := warmupN + int64(ph.Duration/interval)
	if ph.Requests > 0 {
		total = min(total, warmupN+ph.Requests)
	}
	clients := sync.Pool{New: func() any { return newClient(t, rand.Uint64()) }}
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	for i := int64(0); i < total && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		if i == warmupN {
			mark()
		}
		counted := i >= warmupN
		if inFlight.Load() >= maxInFlight {
			if counted {
				rec.mu.Lock()
				rec.res.Missed++
				rec.mu.Unlock()
			}
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			c := clients.Get().(*client)
			defer clients.Put(c)
			user, amount, o := c.charge(ctx, ph.Cards)
			rec.add(time.Since(due), o, user, amount, counted)
		}()
	}
	if !measuring.Load() {
		mark() // no warm-up requests at all
	}
	wg.Wait()
	return ctx.Err()
}

// markAfter calls mark once d has passed (at once when d is zero).
func markAfter(ctx context.Context, d time.Duration, mark func()) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	mark()
}

// authorizeTimeout bounds one authorization: far beyond any latency worth
// measuring, it only keeps a wedged server from hanging the run.
const authorizeTimeout = time.Minute

// authorize posts one authorization and reads the decision.
func (t *target) authorize(ctx context.Context, body []byte, resp *bytes.Buffer) outcome {
	ctx, cancel := context.WithTimeout(ctx, authorizeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/v1/network/authorize", bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+t.key)
	req.Header.Set("Content-Type", "application/json")
	r, err := t.client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer r.Body.Close()
	resp.Reset()
	if _, err := io.Copy(resp, r.Body); err != nil {
		return outcome{err: err}
	}
	if r.StatusCode != http.StatusOK {
		return outcome{err: fmt.Errorf("HTTP %d: %s", r.StatusCode, bytes.TrimSpace(resp.Bytes()))}
	}
	// Go's encoder writes no spaces, so an approval is found without
	// decoding the whole decision; anything else is decoded.
	t.answered.Add(1)
	if bytes.Contains(resp.Bytes(), []byte(`"status":"approved"`)) {
		return outcome{approved: true}
	}
	var d struct {
		Status      string `json:"status"`
		DeclineCode string `json:"decline_code"`
	}
	if err := json.Unmarshal(resp.Bytes(), &d); err != nil {
		return outcome{err: fmt.Errorf("decoding the decision: %w", err)}
	}
	if d.Status == "approved" {
		return outcome{approved: true}
	}
	return outcome{code: d.Status + ":" + d.DeclineCode}
}

// quantile is the q-quantile (nearest rank) of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
