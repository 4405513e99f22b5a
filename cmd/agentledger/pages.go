package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
)

// pageFlags are a list command's --limit and --after.
type pageFlags struct {
	limit int
	after string
}

// add declares the flags; def is --limit's default (0: every object).
func (f *pageFlags) add(cmd *cobra.Command, def int) {
	cmd.Flags().IntVar(&f.limit, "limit", def, "at most this many (0: every one, read a page at a time)")
	cmd.Flags().StringVar(&f.after, "after", "", "start after this id: the last one of the previous listing")
}

// listing is what printList prints: a list read a page at a time, and how
// each object looks as a table row.
type listing[T any] struct {
	id      func(*T) string
	list    func(engine.Page) (engine.List[T], error)
	headers []string
	row     func(*T) []string
	// empty is said instead of a table with no rows (text only).
	empty string
}

// printList prints up to f.limit objects (every one when 0), read a page of
// engine.MaxPageLimit at a time and printed as it comes, so that a listing
// of a million objects holds one page in memory: JSON as one array, text as
// one table per page. When objects remain past the limit, the text ends with
// the --after that continues the listing.
func printList[T any](a *app, f pageFlags, l listing[T]) error {
	if f.limit < 0 {
		return usagef("--limit must be 0 (every one) or more")
	}
	var js *jsonArray
	if a.json {
		js = &jsonArray{w: a.out}
	}
	page := engine.Page{StartingAfter: f.after}
	printed := 0
	for {
		page.Limit = engine.MaxPageLimit
		if f.limit > 0 {
			page.Limit = min(f.limit-printed, engine.MaxPageLimit)
		}
		got, err := l.list(page)
		if err != nil {
			return err
		}
		if js != nil {
			for _, v := range got.Items {
				if err := js.add(v); err != nil {
					return err
				}
			}
		} else if len(got.Items) > 0 {
			headers := l.headers
			if printed > 0 {
				headers = nil // a page after the first continues the table
			}
			t := newTable(a.out, headers...)
			for _, v := range got.Items {
				t.row(l.row(v)...)
			}
			t.flush()
		}
		printed += len(got.Items)
		if !got.HasMore || len(got.Items) == 0 {
			break
		}
		page.StartingAfter = l.id(got.Items[len(got.Items)-1])
		if f.limit > 0 && printed >= f.limit {
			if js == nil {
				fmt.Fprintf(a.out, "(more: add --after %s)\n", page.StartingAfter)
			}
			break
		}
	}
	if js != nil {
		return js.close()
	}
	if printed == 0 && l.empty != "" {
		fmt.Fprintln(a.out, l.empty)
	} else if printed == 0 {
		newTable(a.out, l.headers...).flush()
	}
	return nil
}

// jsonArray writes a JSON array an element at a time, indented as emit
// indents a whole one.
type jsonArray struct {
	w io.Writer
	n int
}

func (j *jsonArray) add(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("  ", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	sep := ",\n  "
	if j.n == 0 {
		sep = "[\n  "
	}
	j.n++
	_, err := io.WriteString(j.w, sep+string(bytes.TrimRight(b.Bytes(), "\n")))
	return err
}

func (j *jsonArray) close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}
