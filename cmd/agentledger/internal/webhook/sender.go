// Package webhook delivers agentledger's events to the operator's webhook
// endpoints: signed POSTs, in order per endpoint, retried on the engine's
// backoff schedule. Delivery state lives in the database (the outbox), so
// any number of senders, in any number of processes, may run at once and a
// restart loses nothing.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// Headers of a delivery.
const (
	SignatureHeader = "X-Agentledger-Signature"
	EventHeader     = "X-Agentledger-Event"
	EventIDHeader   = "X-Agentledger-Event-Id"
)

// Defaults of a Sender.
const (
	DefaultTimeout     = 5 * time.Second // a receiver must answer 2xx within this
	DefaultPoll        = time.Second     // how often an idle sender looks for work
	DefaultConcurrency = 16              // deliveries in flight at once (one per endpoint)
)

// Sender claims due deliveries from the engine and makes them.
type Sender struct {
	Engine *engine.Engine
	// Client sends the requests; one with Timeout and no redirects when nil.
	Client      *http.Client
	Timeout     time.Duration
	Poll        time.Duration
	Concurrency int
	// Owner names this sender in delivery leases; random when empty.
	Owner string
	// Now stamps signatures; time.Now when nil. (Leases and retries run on
	// the engine's clock.)
	Now    func() time.Time
	Logger *slog.Logger
	// OnDelivery, when set, hears of each recorded attempt: the delivery's
	// status after it (pending when it will be retried, delivered, failed)
	// and whether the attempt succeeded (metrics).
	OnDelivery func(status string, ok bool)

	once sync.Once
	wake chan struct{}
}

var operator = engine.Operator

func (s *Sender) init() {
	s.once.Do(func() {
		if s.Timeout <= 0 {
			s.Timeout = DefaultTimeout
		}
		if s.Poll <= 0 {
			s.Poll = DefaultPoll
		}
		if s.Concurrency <= 0 {
			s.Concurrency = DefaultConcurrency
		}
		if s.Client == nil {
			s.Client = &http.Client{
				Timeout: s.Timeout,
				// A redirect is not a delivery: the receiver must answer itself.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
		}
		if s.Owner == "" {
			b := make([]byte, 8)
			rand.Read(b)
			s.Owner = "sender-" + hex.EncodeToString(b)
		}
		if s.Now == nil {
			s.Now = time.Now
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		s.wake = make(chan struct{}, 1)
	})
}

// Notify wakes an idle sender at once (something was just committed).
func (s *Sender) Notify() {
	s.init()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// lease is how long a claimed delivery is this sender's: the attempt's
// timeout and a margin to record it.
func (s *Sender) lease() time.Duration { return s.Timeout + 30*time.Second }

// Run delivers until ctx ends, then waits for the deliveries in flight.
// Endpoints do not wait for each other: whenever a delivery finishes, the
// next due one (of any endpoint) is claimed, up to Concurrency in flight.
func (s *Sender) Run(ctx context.Context) error {
	s.init()
	slots := make(chan struct{}, s.Concurrency)
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for {
		claimed := 0
		if free := s.Concurrency - len(slots); free > 0 {
			jobs, err := s.Engine.ClaimDeliveries(ctx, operator, s.Owner, free, s.lease())
			if err != nil && ctx.Err() == nil {
				s.Logger.Warn("webhook sender", "err", err)
			}
			for _, job := range jobs {
				slots <- struct{}{}
				inFlight.Add(1)
				go func() {
					defer inFlight.Done()
					s.deliver(ctx, job)
					<-slots
					s.Notify() // that endpoint's next event may be due
				}()
			}
			claimed = len(jobs)
		}
		if claimed > 0 {
			continue // others may be due right behind them
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-time.After(s.Poll):
		}
	}
}

// RunOnce claims what is due (at most one delivery per endpoint), sends it
// all concurrently, records each outcome, and returns how many it sent.
// Each send and its record outlive ctx, so that a shutdown never leaves a
// delivery half-recorded; a sender that dies instead leaves a lease that
// runs out, and the delivery is sent again (at least once).
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	s.init()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	jobs, err := s.Engine.ClaimDeliveries(ctx, operator, s.Owner, s.Concurrency, s.lease())
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.deliver(ctx, job)
		}()
	}
	wg.Wait()
	return len(jobs), errors.Join(errs...)
}

// deliver makes one attempt and records it.
func (s *Sender) deliver(ctx context.Context, job *engine.DeliveryJob) error {
	res := s.send(job)
	d, err := s.Engine.CompleteDelivery(context.WithoutCancel(ctx), operator, job, res)
	if err != nil {
		s.Logger.Warn("webhook delivery not recorded (it will be sent again)", "event", job.Event.ID, "endpoint", job.EndpointID, "err", err)
		return err
	}
	level := slog.LevelInfo
	if res.Error != "" {
		level = slog.LevelWarn
	}
	// An endpoint's URL may carry a token (Slack-style paths): the error
	// names the endpoint by its id instead.
	why := strings.ReplaceAll(res.Error, job.URL, "<"+job.EndpointID+">")
	s.Logger.Log(ctx, level, "webhook delivery", "event", job.Event.ID, "type", job.Event.Type, "endpoint", job.EndpointID,
		"status", d.Status, "attempts", d.Attempts, "code", res.StatusCode, "err", why)
	if s.OnDelivery != nil {
		s.OnDelivery(d.Status, res.Error == "")
	}
	return nil
}

// send makes one attempt.
func (s *Sender) send(job *engine.DeliveryJob) engine.DeliveryResult {
	body, err := json.Marshal(job.Event)
	if err != nil {
		return engine.DeliveryResult{Error: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(body))
	if err != nil {
		return engine.DeliveryResult{Error: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "agentledger-webhooks/1")
	req.Header.Set(SignatureHeader, Sign(job.Secret, s.Now(), body))
	req.Header.Set(EventHeader, job.Event.Type)
	req.Header.Set(EventIDHeader, job.Event.ID)
	resp, err := s.Client.Do(req)
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return engine.DeliveryResult{Error: fmt.Sprintf("no answer within %s", s.Timeout)}
	} else if err != nil {
		return engine.DeliveryResult{Error: err.Error()}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	res := engine.DeliveryResult{StatusCode: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		res.Error = strings.TrimSpace(fmt.Sprintf("HTTP %d %s", resp.StatusCode, bytes.ToValidUTF8(snippet, nil)))
		if len(res.Error) > 300 {
			res.Error = res.Error[:300]
		}
	}
	return res
}

// Sign returns the X-Agentledger-Signature header of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Verification errors.
var (
	ErrNoSignature  = errors.New("webhook: no valid X-Agentledger-Signature header")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp outside the tolerance (a replay?)")
)

// Verify checks a delivery's signature header against its raw body: the
// HMAC must match and the timestamp be within tolerance of now. It is what
// a receiver written in Go does (the README has the same in a few lines).
// Stripe signs its webhooks the same way ("t=…,v1=…[,v1=…][,v0=…]"), so it
// checks those too: any v1 may match (several during a secret roll); v0
// and other schemes are ignored.
func Verify(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want, ok := mac(secret, ts, body), false
	for _, sig := range sigs {
		ok = ok || hmac.Equal(sig, want)
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
