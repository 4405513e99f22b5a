package engine

import "strings"

// Page sizes of the faces that page (the REST API's limit).
const (
	DefaultPageLimit = 10
	MaxPageLimit     = 100
)

// Page asks for one page of a list.
//
// Pages are keyed, never counted: a page starts just after the object named
// by StartingAfter in the list's own order, so objects added meanwhile do not
// shift later pages. The cursor must be shaped like an id of the list's type
// (INVALID_INPUT otherwise), but need not exist: a cursor that names no
// object (one deleted, or never made) starts where it would sit in the
// order, not with an error.
type Page struct {
	Limit         int    // at most this many objects; 0: every object (the CLI's lists)
	StartingAfter string // the id of the last object of the previous page; "" starts at the beginning
}

// List is one page of a list and whether more objects follow it.
type List[T any] struct {
	Items   []*T
	HasMore bool
}

// check validates a page of a list whose ids carry prefix.
func (p Page) check(prefix string) error {
	if err := p.checkLimit(); err != nil {
		return err
	}
	if p.StartingAfter != "" && !isID(p.StartingAfter, prefix) {
		return invalid("starting_after", "%q is not an id of this list (%s…)", p.StartingAfter, prefix)
	}
	return nil
}

func (p Page) checkLimit() error {
	if p.Limit < 0 || p.Limit > MaxPageLimit {
		return invalid("limit", "must be between 1 and %d, or 0 for every object; got %d", MaxPageLimit, p.Limit)
	}
	return nil
}

// DeliveryID is the id of a delivery: its event's and its endpoint's ids.
func DeliveryID(eventID, endpointID string) string { return eventID + ":" + endpointID }

// isDeliveryID reports whether ref is shaped like a delivery id.
func isDeliveryID(ref string) bool {
	ev, w, ok := strings.Cut(ref, ":")
	return ok && isID(ev, PrefixEvent) && isID(w, PrefixWebhook)
}

// paginate reads one page through a store listing: list returns up to limit
// objects (0: all) after the cursor in the list's order, and keep says
// whether to show an object and as what (nil: skip it, as an object the
// actor may not see). Objects the store returns but keep skips cost a
// further read, so a page is full whenever enough objects follow.
func paginate[T any](p Page, id func(*T) string, list func(after string, limit int) ([]*T, error), keep func(*T) *T) (List[T], error) {
	out := List[T]{Items: []*T{}}
	after, want := p.StartingAfter, 0
	if p.Limit > 0 {
		want = p.Limit + 1 // one more tells whether more follow
	}
	for {
		batch, err := list(after, want)
		if err != nil {
			return List[T]{}, err
		}
		for _, v := range batch {
			if v = keep(v); v != nil {
				out.Items = append(out.Items, v)
			}
		}
		if want == 0 || len(out.Items) >= want || len(batch) < want {
			break
		}
		after = id(batch[len(batch)-1])
	}
	if p.Limit > 0 && len(out.Items) > p.Limit {
		out.Items, out.HasMore = out.Items[:p.Limit], true
	}
	return out, nil
}

// keepAll shows every object a listing returns.
func keepAll[T any](v *T) *T { return v }
