package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/google/uuid"
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

// table writes aligned columns, with ids shortened (see shortIDs). Rows are
// held until flush, so that every id the table shows is known before any is
// shortened.
type table struct {
	w    io.Writer
	rows [][]string
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{w: w}
	if len(headers) > 0 {
		t.row(headers...)
	}
	return t
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) flush() {
	short := shortIDs(t.rows)
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	for _, cells := range t.rows {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = c
			if s, ok := short[c]; ok {
				out[i] = s
			}
		}
		fmt.Fprintln(tw, strings.Join(out, "\t"))
	}
	tw.Flush()
	t.rows = nil
}

// fields writes "name  value" lines, aligned. Ids stay whole: a single
// object's view is where an operator copies them from.
func fields(w io.Writer, pairs ...string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintln(tw, pairs[i]+"\t"+pairs[i+1])
	}
	tw.Flush()
}

// shortIDLen is how much of an id's UUID a table shows at least: the 48-bit
// millisecond timestamp of the UUIDv7 (8 hex digits, "-", 4 hex digits) and
// the hyphen after it.
const shortIDLen = 14

// shortIDs maps every id that is a whole cell of rows to the shortened form
// a table shows: its prefix, the start of its UUID and "…", as in
// txn_01a203f7-6f1b-…. Ids made in the same millisecond share those
// characters, so ids of one kind are lengthened together, just past the
// first character in which the distinct ones among them differ, as in
// txn_01a203f7-6f1b-7001…; an id that would need all of its UUID is shown
// whole. Commands still take only whole ids.
func shortIDs(rows [][]string) map[string]string {
	byPrefix := map[string][]string{} // distinct UUIDs, by id prefix
	seen := map[string]bool{}
	for _, cells := range rows {
		for _, c := range cells {
			prefix, u, ok := splitID(c)
			if ok && !seen[c] {
				seen[c] = true
				byPrefix[prefix] = append(byPrefix[prefix], u)
			}
		}
	}
	short := map[string]string{}
	for prefix, uuids := range byPrefix {
		// Sorted, the longest common start of any two UUIDs is that of two
		// neighbours.
		slices.Sort(uuids)
		n := shortIDLen
		for i := 1; i < len(uuids); i++ {
			n = max(n, commonPrefixLen(uuids[i-1], uuids[i])+1)
		}
		for _, u := range uuids {
			if n >= len(u) {
				short[prefix+u] = prefix + u
			} else {
				short[prefix+u] = prefix + u[:n] + "…"
			}
		}
	}
	return short
}

// splitID splits an agentledger id (DESIGN §2: a lower-case type prefix
// ending in "_", then a UUID in its canonical 36-character form) into its
// prefix and UUID.
func splitID(s string) (prefix, u string, ok bool) {
	i := strings.IndexByte(s, '_')
	if i < 1 || strings.Trim(s[:i], "abcdefghijklmnopqrstuvwxyz") != "" {
		return "", "", false
	}
	u = s[i+1:]
	if len(u) != 36 || uuid.Validate(u) != nil {
		return "", "", false
	}
	return s[:i+1], u, true
}

func commonPrefixLen(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
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
