// Command webhook-receiver is a minimal agentledger webhook endpoint: it
// checks each delivery's signature and prints the event.
//
//	AGENTLEDGER_WEBHOOK_SECRET=whsec_… go run ./examples/webhook-receiver -addr 127.0.0.1:9000
//	agentledger webhook add http://127.0.0.1:9000/hooks
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// verify checks X-Agentledger-Signature ("t=<unix>,v1=<hex>") against the
// raw body: the HMAC-SHA256 of "<t>.<body>" under the endpoint's secret,
// and a timestamp no more than 5 minutes away (so a captured request
// cannot be replayed later).
func verify(secret, header string, body []byte, now time.Time) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, sig := range sigs {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// handler answers 2xx only for deliveries that verify; agentledger retries
// anything else. Events arrive at least once: dedupe on the event id.
func handler(secret string, out io.Writer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !verify(secret, r.Header.Get("X-Agentledger-Signature"), body, time.Now()) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var event struct {
			ID   string          `json:"id"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(out, "%s %s %s\n", event.ID, event.Type, event.Data)
		w.WriteHeader(http.StatusNoContent)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	secret := os.Getenv("AGENTLEDGER_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set AGENTLEDGER_WEBHOOK_SECRET to the secret 'agentledger webhook add' printed")
	}
	log.Printf("listening on http://%s/hooks", *addr)
	log.Fatal(http.ListenAndServe(*addr, handler(secret, os.Stdout)))
}
