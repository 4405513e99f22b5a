package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// emit prints v as indented JSON under --json, and otherwise lets human
// write the text rendering.
func (a *app) emit(v any, human func(w io.Writer)) error {
	if a.json {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	human(a.out)
	return nil
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(headers) > 0 {
		t.row(headers...)
	}
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() { t.tw.Flush() }

// fields writes "name  value" lines, aligned.
func fields(w io.Writer, pairs ...string) {
	t := newTable(w)
	for i := 0; i+1 < len(pairs); i += 2 {
		t.row(pairs[i], pairs[i+1])
	}
	t.flush()
}

func money(amount int64, currency string) string { return engine.FormatAmount(amount, currency) }

// limit renders an optional amount limit.
func limit(v *int64, currency string) string {
	if v == nil {
		return "—"
	}
	return money(*v, currency)
}

// count renders an optional count.
func count(v *int64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatInt(*v, 10)
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func optionalTime(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return timestamp(*t)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func list(items []string) string {
	if len(items) == 0 {
		return "—"
	}
	return strings.Join(items, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
