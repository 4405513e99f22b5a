package sqlite

import (
	"encoding/json"
	"sync"
)

// jsonCache remembers documents it has decoded, by their text. Policies and
// card limits are read on every authorization but change rarely; decoding
// them with encoding/json costs more than the query that loads them. Keyed
// by content, an entry can never be stale. Values are cloned on the way out
// so that callers may modify what they get.
type jsonCache[T any] struct {
	mu    sync.Mutex
	docs  map[string]T
	clone func(T) T
}

// jsonCacheSize bounds the entries; a full cache is simply emptied.
const jsonCacheSize = 4096

func newJSONCache[T any](clone func(T) T) *jsonCache[T] {
	return &jsonCache[T]{docs: map[string]T{}, clone: clone}
}

func (c *jsonCache[T]) decode(raw string, into *T) error {
	c.mu.Lock()
	v, ok := c.docs[raw]
	c.mu.Unlock()
	if ok {
		*into = c.clone(v)
		return nil
	}
	var fresh T
	if err := json.Unmarshal([]byte(raw), &fresh); err != nil {
		return err
	}
	c.mu.Lock()
	if len(c.docs) >= jsonCacheSize {
		clear(c.docs)
	}
	c.docs[raw] = fresh
	c.mu.Unlock()
	*into = c.clone(fresh)
	return nil
}
