package storekit

import (
	"slices"
	"strings"
)

// Conditions collects the WHERE terms of a filtered listing, each with its
// parameters marked ? (a store numbers them if its SQL wants $1, $2, …).
type Conditions struct {
	Terms []string
	Args  []any
}

// And adds a term with its arguments.
func (c *Conditions) And(term string, args ...any) {
	c.Terms, c.Args = append(c.Terms, term), append(c.Args, args...)
}

// After adds a list's cursor: rows after the given id in the order of
// column, descending or not; an empty cursor adds nothing.
func (c *Conditions) After(column, id string, descending bool) {
	switch {
	case id == "":
	case descending:
		c.And(column+" < ?", id)
	default:
		c.And(column+" > ?", id)
	}
}

// Query completes a SELECT with the terms, an ordering and an optional
// limit.
func (c *Conditions) Query(selectFrom, orderBy string, limit int) (string, []any) {
	q, args := selectFrom, c.Args
	if len(c.Terms) > 0 {
		q += " WHERE " + strings.Join(c.Terms, " AND ")
	}
	q += " ORDER BY " + orderBy
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	return q, args
}

// With is a copy of c with one more term, without arguments.
func (c *Conditions) With(term string) *Conditions {
	return &Conditions{Terms: append(slices.Clone(c.Terms), term), Args: slices.Clone(c.Args)}
}

// LiteralList renders enum values (statuses) as SQL string literals. They
// go into the SQL text rather than as parameters so that the planner can
// prove a query matches a partial index such as "WHERE status =
// 'approved'". Only lower-case words are accepted; anything else is
// dropped, matching nothing.
func LiteralList(values []string) string {
	var b strings.Builder
	for _, v := range values {
		if v == "" || strings.Trim(v, "abcdefghijklmnopqrstuvwxyz_") != "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + v + "'")
	}
	if b.Len() == 0 {
		return "NULL"
	}
	return b.String()
}

// InValues renders "column IN (...)" over enum values, as "column = '...'"
// when there is one, since SQLite matches a partial index's "status =
// 'approved'" only against an equality.
func InValues(column string, values []string) string {
	if len(values) == 1 {
		return column + " = " + LiteralList(values)
	}
	return column + " IN (" + LiteralList(values) + ")"
}
