// Package storekit is what the SQLite and PostgreSQL stores share beyond
// engine's interface: the check of a snapshot of a store's rows against the
// ledger's invariants (VerifyLedger), the layout of the velocity scopes both
// keep, and the loading of numbered migrations. Each store reads its rows
// with its own SQL; the rules and the fault texts are here, once.
package storekit

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// VelocityWidths are the widths, in microseconds, of the buckets in which a
// velocity scope sums its stopped spends (1 s, 1 min, 1 h, 1 day): each
// divides the next.
var VelocityWidths = [...]int64{1e6, 60e6, 3600e6, 86400e6}

// FloorTo rounds v down to a multiple of w (also below zero).
func FloorTo(v, w int64) int64 {
	r := v % w
	if r < 0 {
		r += w
	}
	return v - r
}

// CeilTo rounds v up to a multiple of w.
func CeilTo(v, w int64) int64 {
	if f := FloorTo(v, w); f != v {
		return f + w
	}
	return v
}

// Migration is one numbered schema step, from migrations/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads migrations/*.sql of fsys in version order, and
// fails unless they are numbered 1, 2, 3… without a gap.
func LoadMigrations(fsys embed.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and an underscore", base)
		}
		body, err := fsys.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: version, Name: base, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return out, nil
}
