package main

import "github.com/agentledger/agentledger/engine"

// firstN reads up to limit objects of a list (0 or less: every object), a
// page of at most engine.MaxPageLimit at a time, so that a command's
// --limit is not bounded by the page size.
func firstN[T any](limit int, id func(*T) string, list func(engine.Page) (engine.List[T], error)) ([]*T, error) {
	if limit <= 0 {
		all, err := list(engine.Page{})
		return all.Items, err
	}
	out := []*T{}
	page := engine.Page{}
	for len(out) < limit {
		page.Limit = min(limit-len(out), engine.MaxPageLimit)
		l, err := list(page)
		if err != nil {
			return nil, err
		}
		out = append(out, l.Items...)
		if !l.HasMore || len(l.Items) == 0 {
			break
		}
		page.StartingAfter = id(l.Items[len(l.Items)-1])
	}
	return out, nil
}
