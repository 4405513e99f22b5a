// Package lithictest is a fake Lithic card API for tests: an httptest
// server that answers POST/GET /v1/cards and GET/PATCH /v1/cards/{token} as
// Lithic's API reference describes them, from the reference's own examples
// (testdata/, see its README). It checks the Authorization header, refuses
// requests its schema refuses (unknown fields, bad enums, missing type) with
// Lithic's error shape, keeps cards, honours Idempotency-Key on card
// creation, records every request in order, and fails calls on demand.
//
// Where the reference is silent the fake decides, and says so on the method
// that does (the status of a refused state change, the default
// spend_limit_duration, the order of a list).
package lithictest

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata/*.json
var fixtures embed.FS

// Fixture returns testdata/name, one of Lithic's API reference examples.
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		panic("lithictest: no fixture " + name)
	}
	return b
}

// FixtureNames lists the fixtures.
func FixtureNames() []string {
	entries, _ := fixtures.ReadDir("testdata")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// APIKey is the key a Server accepts unless WithAPIKey says otherwise.
const APIKey = "lithic-sandbox-test-key"

// Server is a fake Lithic. Its URL is the API base (like
// https://sandbox.lithic.com). It is safe for concurrent use.
type Server struct {
	*httptest.Server

	apiKey   string
	template map[string]any // the create-card example: every card's field set
	quit     chan struct{}
	quitOnce sync.Once

	mu       sync.Mutex
	now      func() time.Time
	cards    []*card // in creation order
	byToken  map[string]*card
	idem     map[string]idemEntry
	requests []Request
	faults   []*Fault
}

type card struct {
	fields  map[string]any // as GET answers it, PAN and CVV included
	created time.Time
}

type idemEntry struct {
	request []byte // the canonical body of the first request
	answer  answer
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey makes the server accept key instead of APIKey.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithClock makes the server read the time from now (card creation times,
// default expiry dates, list filters).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// New starts a fake Lithic, closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{apiKey: APIKey, quit: make(chan struct{}), now: time.Now,
		byToken: map[string]*card{}, idem: map[string]idemEntry{}}
	if err := json.Unmarshal(Fixture("create_card.response.json"), &s.template); err != nil {
		t.Fatalf("lithictest: create_card.response.json: %v", err)
	}
	for _, o := range opts {
		o(s)
	}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, first releasing calls a fault holds.
func (s *Server) Close() {
	s.quitOnce.Do(func() { close(s.quit) })
	s.Server.Close()
}

// Request is one call the server received, faulted or not.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Body is the JSON body (nil when there was none), without "pan" and
	// "cvv" should a request ever carry them.
	Body           json.RawMessage
	IdempotencyKey string
	// Fault says how the call was failed: "" (it was not), "status 500",
	// "hang", "refused".
	Fault string
}

// Requests returns every request so far, in the order they arrived.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Calls counts the requests with this method and path (a path.Match
// pattern, e.g. "/v1/cards/*").
func (s *Server) Calls(method, pattern string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && matches(pattern, r.Path) {
			n++
		}
	}
	return n
}

// ClearRequests forgets the requests recorded so far.
func (s *Server) ClearRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Card is a card as the server holds it.
type Card struct {
	Token              string
	Type               string
	State              string
	Memo               string
	SpendLimit         int64
	SpendLimitDuration string
	PAN                string
	CVV                string
	LastFour           string
	ExpMonth           string
	ExpYear            string
	Created            time.Time
}

func (c *card) snapshot() Card {
	str := func(k string) string { v, _ := c.fields[k].(string); return v }
	limit, _ := c.fields["spend_limit"].(int64)
	return Card{Token: str("token"), Type: str("type"), State: str("state"), Memo: str("memo"),
		SpendLimit: limit, SpendLimitDuration: str("spend_limit_duration"), PAN: str("pan"), CVV: str("cvv"),
		LastFour: str("last_four"), ExpMonth: str("exp_month"), ExpYear: str("exp_year"), Created: c.created}
}

// Cards returns the cards, oldest first.
func (s *Server) Cards() []Card {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Card, len(s.cards))
	for i, c := range s.cards {
		out[i] = c.snapshot()
	}
	return out
}

// Card returns the card token.
func (s *Server) Card(token string) (Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byToken[token]
	if !ok {
		return Card{}, false
	}
	return c.snapshot(), true
}

// SetState changes a card's state as Lithic might on its own (a single-use
// card closed by its first authorization, a physical card
// PENDING_FULFILLMENT). Any string is taken.
func (s *Server) SetState(token, state string) bool {
	return s.edit(token, func(f map[string]any) { f["state"] = state })
}

// SetSpendLimit changes a card's limit behind agentledger's back.
func (s *Server) SetSpendLimit(token string, limit int64, duration string) bool {
	return s.edit(token, func(f map[string]any) { f["spend_limit"], f["spend_limit_duration"] = limit, duration })
}

func (s *Server) edit(token string, change func(map[string]any)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byToken[token]
	if ok {
		change(c.fields)
	}
	return ok
}

// ForgetIdempotencyKeys drops every stored Idempotency-Key, as Lithic does
// once a key is 24 hours old: a request that repeats one is new again.
func (s *Server) ForgetIdempotencyKeys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idem = map[string]idemEntry{}
}

// Fault fails calls. A call matches when its method is Method ("" for any)
// and its path matches Path (a path.Match pattern such as "/v1/cards/*"; ""
// for any). Each fault fails its next Times matching calls (0 means 1); the
// first fault with calls left wins.
//
// Go's http.Transport resends a request whose reused connection closed
// without an answer when the request is replayable (a GET, or a POST with an
// Idempotency-Key), so a client may never see a single refusal: refuse two
// calls to be sure it sees one.
type Fault struct {
	Method string
	Path   string
	Times  int
	// Status answers this status with Lithic's error shape and Message (its
	// status text when empty), e.g. 500, 429 or 400.
	Status  int
	Message string
	// Hang holds the call this long before going on (or until the client
	// gives up, which then ends it).
	Hang time.Duration
	// Refuse closes the connection without an answer.
	Refuse bool
	// AfterEffect lets the call take effect first and fails only its
	// answer: the card is created or changed, the client never learns so.
	AfterEffect bool
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext answers the next n calls matching method and pattern with status.
func (s *Server) FailNext(n int, method, pattern string, status int) {
	s.Inject(Fault{Method: method, Path: pattern, Times: n, Status: status})
}

// HangNext holds the next n matching calls for d before answering them.
func (s *Server) HangNext(n int, method, pattern string, d time.Duration) {
	s.Inject(Fault{Method: method, Path: pattern, Times: n, Hang: d})
}

// RefuseNext closes the connection of the next n matching calls.
func (s *Server) RefuseNext(n int, method, pattern string) {
	s.Inject(Fault{Method: method, Path: pattern, Times: n, Refuse: true})
}

// ClearFaults drops the faults not used up.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func matches(pattern, p string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// takeFault records r and returns the fault it meets, if any.
func (s *Server) takeFault(r *http.Request, body []byte) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hit *Fault
	for _, f := range s.faults {
		if f.Times > 0 && (f.Method == "" || strings.EqualFold(f.Method, r.Method)) && matches(f.Path, r.URL.Path) {
			f.Times--
			c := *f
			hit = &c
			break
		}
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: scrub(body),
		IdempotencyKey: r.Header.Get("Idempotency-Key")}
	switch {
	case hit == nil:
	case hit.Refuse:
		req.Fault = "refused"
	case hit.Hang > 0:
		req.Fault = "hang"
	case hit.Status != 0:
		req.Fault = "status " + strconv.Itoa(hit.Status)
	}
	s.requests = append(s.requests, req)
	return hit
}

// scrub drops top-level "pan" and "cvv" from a JSON object body.
func scrub(body []byte) json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return slices.Clone(body)
	}
	if _, pan := m["pan"]; !pan {
		if _, cvv := m["cvv"]; !cvv {
			return slices.Clone(body)
		}
	}
	delete(m, "pan")
	delete(m, "cvv")
	out, _ := json.Marshal(m)
	return out
}

// apply carries out f; it reports whether the call is over.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Hang > 0 {
		t := time.NewTimer(f.Hang)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		case <-s.quit:
			return true
		}
	}
	if f.Refuse {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // no hijacking: abort the answer instead
	}
	if f.Status != 0 {
		msg := f.Message
		if msg == "" {
			msg = http.StatusText(f.Status)
		}
		write(w, errorAnswer(f.Status, "%s", msg))
		return true
	}
	return false
}

// answer is a status and a JSON body.
type answer struct {
	status int
	body   any
}

func errorAnswer(status int, format string, args ...any) answer {
	return answer{status, map[string]any{"debugging_request_id": newUUID(), "message": fmt.Sprintf(format, args...)}}
}

func write(w http.ResponseWriter, a answer) {
	b, err := json.Marshal(a.body)
	if err != nil {
		a = errorAnswer(http.StatusInternalServerError, "lithictest: %v", err)
		b, _ = json.Marshal(a.body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	w.Write(b)
}

// ServeHTTP serves Lithic's card endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	f := s.takeFault(r, body)
	if f != nil && !f.AfterEffect && s.apply(w, r, f) {
		return
	}
	a := s.serve(r, body)
	if f != nil && f.AfterEffect && s.apply(w, r, f) {
		return
	}
	write(w, a)
}

var cardPath = regexp.MustCompile(`^/v1/cards/([^/]+)$`)

func (s *Server) serve(r *http.Request, body []byte) answer {
	if a, ok := s.authorized(r); !ok {
		return a
	}
	if r.URL.Path == "/v1/cards" {
		switch r.Method {
		case http.MethodPost:
			return s.create(r, body)
		case http.MethodGet:
			return s.list(r.URL.Query())
		}
		return errorAnswer(http.StatusMethodNotAllowed, "Method not allowed")
	}
	if m := cardPath.FindStringSubmatch(r.URL.Path); m != nil {
		switch r.Method {
		case http.MethodGet:
			return s.get(m[1])
		case http.MethodPatch:
			return s.update(m[1], body)
		}
		return errorAnswer(http.StatusMethodNotAllowed, "Method not allowed")
	}
	return errorAnswer(http.StatusNotFound, "Not found: %s %s is not served by lithictest", r.Method, r.URL.Path)
}

// authorized checks "Authorization: <api key>", answering as the
// reference's 401 table says.
func (s *Server) authorized(r *http.Request) (answer, bool) {
	h := r.Header.Get("Authorization")
	switch {
	case h == "":
		return errorAnswer(http.StatusUnauthorized, "Please provide API key in Authorization header"), false
	case strings.ContainsRune(h, ' '):
		return errorAnswer(http.StatusUnauthorized, "Please provide API key in the form Authorization: [api-key]"), false
	case h != s.apiKey:
		return errorAnswer(http.StatusUnauthorized, "Could not find API key"), false
	}
	return answer{}, true
}

// create is POST /v1/cards. An Idempotency-Key (a UUID, as the reference
// requires) replays the first answer to the same key and body, and refuses
// another body under it with 422 (the reference says only that an error is
// raised). A request refused by validation stores nothing under its key.
// Without spend_limit_duration a card gets TRANSACTION (the reference names
// no default); without exp_month and exp_year it expires in five years.
func (s *Server) create(r *http.Request, body []byte) answer {
	key := r.Header.Get("Idempotency-Key")
	if key != "" && !isUUID(key) {
		return errorAnswer(http.StatusBadRequest, "Idempotency-Key: must be a valid UUID")
	}
	req, msg := validate(body, createSchema)
	if msg != "" {
		return errorAnswer(http.StatusBadRequest, "%s", msg)
	}
	canonical, _ := json.Marshal(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if key != "" {
		if e, ok := s.idem[key]; ok {
			if !bytes.Equal(e.request, canonical) {
				return errorAnswer(http.StatusUnprocessableEntity, "Idempotency-Key %s was used with other parameters", key)
			}
			return e.answer
		}
	}
	now := s.now().UTC()
	f := deepCopy(s.template).(map[string]any)
	pan := s.newPAN()
	exp := now.AddDate(5, 0, 0)
	f["token"] = newUUID()
	f["pan"] = pan
	f["last_four"] = pan[len(pan)-4:]
	f["cvv"] = digits(3)
	f["created"] = now.Format(time.RFC3339)
	f["exp_month"] = stringOr(req["exp_month"], fmt.Sprintf("%02d", int(exp.Month())))
	f["exp_year"] = stringOr(req["exp_year"], fmt.Sprintf("%04d", exp.Year()))
	f["memo"] = stringOr(req["memo"], "")
	f["type"] = req["type"]
	f["state"] = stringOr(req["state"], "OPEN")
	f["spend_limit"] = int64(0)
	if v, ok := req["spend_limit"]; ok {
		f["spend_limit"] = v
	}
	f["spend_limit_duration"] = stringOr(req["spend_limit_duration"], "TRANSACTION")
	f["replacement_for"] = nil
	if v, ok := req["replacement_for"]; ok {
		f["replacement_for"] = v
	}
	for _, k := range []string{"account_token", "card_program_token"} {
		if v, ok := req[k]; ok {
			f[k] = v
		}
	}
	f["pin_status"] = "NOT_SET"
	c := &card{fields: f, created: now}
	s.cards = append(s.cards, c)
	s.byToken[f["token"].(string)] = c
	a := answer{http.StatusOK, deepCopy(f)}
	if key != "" {
		s.idem[key] = idemEntry{request: canonical, answer: a}
	}
	return a
}

func (s *Server) get(token string) answer {
	if !isUUID(token) {
		return errorAnswer(http.StatusBadRequest, "card_token: must be a valid UUID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byToken[token]
	if !ok {
		return errorAnswer(http.StatusNotFound, "Card not found")
	}
	return answer{http.StatusOK, deepCopy(c.fields)}
}

// update is PATCH /v1/cards/{card_token}. A CLOSED card cannot be set to
// another state: 422 (the reference says closing cannot be undone, not how
// a try is refused). memo, spend_limit, spend_limit_duration, state and
// pin_status change the card; the schema's other fields are taken and
// ignored.
func (s *Server) update(token string, body []byte) answer {
	if !isUUID(token) {
		return errorAnswer(http.StatusBadRequest, "card_token: must be a valid UUID")
	}
	req, msg := validate(body, updateSchema)
	if msg != "" {
		return errorAnswer(http.StatusBadRequest, "%s", msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byToken[token]
	if !ok {
		return errorAnswer(http.StatusNotFound, "Card not found")
	}
	if st, ok := req["state"]; ok && c.fields["state"] == "CLOSED" && st != "CLOSED" {
		return errorAnswer(http.StatusUnprocessableEntity, "Card is CLOSED: closing a card cannot be undone")
	}
	for _, k := range []string{"memo", "spend_limit", "spend_limit_duration", "state", "pin_status"} {
		if v, ok := req[k]; ok {
			c.fields[k] = v
		}
	}
	return answer{http.StatusOK, deepCopy(c.fields)}
}

var listParams = map[string]bool{"account_token": true, "state": true, "memo": true, "begin": true, "end": true,
	"ending_before": true, "page_size": true, "starting_after": true}

// list is GET /v1/cards: non-PCI cards (no pan, no cvv), newest first (the
// reference does not say), filtered by account_token, state, memo (contains,
// ignoring case), begin and end, paged by page_size (default 50, at most
// 100) and the starting_after / ending_before cursors.
func (s *Server) list(q url.Values) answer {
	for k, v := range q {
		if !listParams[k] {
			return errorAnswer(http.StatusBadRequest, "%s: unknown query parameter", k)
		}
		if len(v) != 1 {
			return errorAnswer(http.StatusBadRequest, "%s: given more than once", k)
		}
	}
	size := 50
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return errorAnswer(http.StatusBadRequest, "page_size: must be an integer from 1 to 100")
		}
		size = n
	}
	var begin, end time.Time
	for k, t := range map[string]*time.Time{"begin": &begin, "end": &end} {
		if v := q.Get(k); v != "" {
			p, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return errorAnswer(http.StatusBadRequest, "%s: must be an RFC 3339 date-time", k)
			}
			*t = p
		}
	}
	state := q.Get("state")
	if state != "" && !slices.Contains([]string{"CLOSED", "OPEN", "PAUSED", "PENDING_ACTIVATION", "PENDING_FULFILLMENT"}, state) {
		return errorAnswer(http.StatusBadRequest, "state: must be one of CLOSED, OPEN, PAUSED, PENDING_ACTIVATION, PENDING_FULFILLMENT")
	}
	if v := q.Get("account_token"); v != "" && !isUUID(v) {
		return errorAnswer(http.StatusBadRequest, "account_token: must be a valid UUID")
	}
	if q.Get("starting_after") != "" && q.Get("ending_before") != "" {
		return errorAnswer(http.StatusBadRequest, "starting_after and ending_before cannot be combined")
	}
	memo := strings.ToLower(q.Get("memo"))

	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*card
	for i := len(s.cards) - 1; i >= 0; i-- {
		c := s.cards[i]
		switch {
		case q.Get("account_token") != "" && c.fields["account_token"] != q.Get("account_token"),
			state != "" && c.fields["state"] != state,
			memo != "" && !strings.Contains(strings.ToLower(stringOr(c.fields["memo"], "")), memo),
			!begin.IsZero() && !c.created.After(begin),
			!end.IsZero() && !c.created.Before(end):
			continue
		}
		all = append(all, c)
	}
	at := func(token string) int {
		return slices.IndexFunc(all, func(c *card) bool { return c.fields["token"] == token })
	}
	from, to := 0, len(all)
	if t := q.Get("starting_after"); t != "" {
		i := at(t)
		if i < 0 {
			return errorAnswer(http.StatusBadRequest, "starting_after: no such card in this list")
		}
		from = i + 1
		to = min(len(all), from+size)
	} else if t := q.Get("ending_before"); t != "" {
		i := at(t)
		if i < 0 {
			return errorAnswer(http.StatusBadRequest, "ending_before: no such card in this list")
		}
		to = i
		from = max(0, to-size)
	} else {
		to = min(len(all), size)
	}
	data := []any{}
	for _, c := range all[from:to] {
		item := deepCopy(c.fields).(map[string]any)
		delete(item, "pan")
		delete(item, "cvv")
		data = append(data, item)
	}
	hasMore := to < len(all)
	if q.Get("ending_before") != "" {
		hasMore = from > 0
	}
	return answer{http.StatusOK, map[string]any{"data": data, "has_more": hasMore}}
}

// newPAN makes a 16-digit Visa test number (Luhn-valid) no card has yet.
func (s *Server) newPAN() string {
	for {
		p := "411111" + digits(9)
		p += luhnDigit(p)
		if !slices.ContainsFunc(s.cards, func(c *card) bool { return c.fields["pan"] == p }) {
			return p
		}
	}
}

func luhnDigit(p string) string {
	sum := 0
	for i := len(p) - 1; i >= 0; i-- {
		d := int(p[i] - '0')
		if (len(p)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return strconv.Itoa((10 - sum%10) % 10)
}

func digits(n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidPattern.MatchString(s) }

func stringOr(v any, def string) string {
	if s, ok := v.(string); ok {
		return s
	}
	return def
}

// deepCopy copies decoded JSON (maps, slices, scalars).
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}
