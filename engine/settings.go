package engine

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Settings are the organisation's, kept in the database so that every
// process on it (a stdio server a desktop client spawned, an HTTP server, the
// CLI) decides alike.
type Settings struct {
	// TimeZone is the IANA zone whose calendar days and months are the daily
	// and monthly windows (DESIGN §2).
	TimeZone string `json:"timezone"`
	// UpdatedAt is when the zone was chosen; nil when it never was (a
	// database upgraded from before zones were stored: UTC).
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// locations caches loaded zones: time.LoadLocation reads the zone file each
// time, and every decision needs one.
var locations sync.Map // name → *time.Location

// LoadTimeZone validates an IANA time zone name and loads it. "Local" is
// refused: it means something else on every machine.
func LoadTimeZone(field, name string) (*time.Location, error) {
	name = strings.TrimSpace(name)
	if v, ok := locations.Load(name); ok {
		return v.(*time.Location), nil
	}
	if name == "" || strings.EqualFold(name, "local") {
		return nil, invalid(field, "must be an IANA time zone such as UTC or Europe/Berlin, got %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, invalid(field, "%q is not a time zone this machine knows (an IANA name such as Europe/Berlin)", name)
	}
	locations.Store(name, loc)
	return loc, nil
}

// location is the organisation's time zone as the transaction sees it.
func location(tx Tx) (*time.Location, error) {
	s, err := tx.Settings()
	if err != nil {
		return nil, err
	}
	return LoadTimeZone("timezone", s.TimeZone)
}

// GetSettings returns the organisation's settings. Operators and viewers.
func (e *Engine) GetSettings(ctx context.Context, actor Actor) (*Settings, error) {
	if err := actor.requireRole("show settings", RoleAdmin, RoleViewer); err != nil {
		return nil, err
	}
	var out *Settings
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = tx.Settings()
		return err
	})
	return out, err
}

// SetTimeZoneInput changes the organisation's time zone.
type SetTimeZoneInput struct {
	TimeZone       string `json:"timezone"`
	IdempotencyKey string `json:"-"`
	// OnlyIfUnset sets the zone only when none was ever chosen (a new
	// database): a zone another process chose first is kept, and returned
	// as To. Two servers starting on one new database agree on one zone.
	OnlyIfUnset bool `json:"-"`
}

// TimeZoneChange says what a change of time zone did to the windows open
// at that moment. Spend already counted stays in the day and month it was
// counted in (a later reversal gives back to those); from At on, the
// current day and month are those of the new zone.
type TimeZoneChange struct {
	From        string    `json:"from"`
	To          string    `json:"to"`
	At          time.Time `json:"at"`
	DayBefore   string    `json:"day_before"` // today's daily window in the old zone
	DayAfter    string    `json:"day_after"`  // and in the new one
	MonthBefore string    `json:"month_before"`
	MonthAfter  string    `json:"month_after"`
}

// SetTimeZone changes the organisation's time zone for every process on
// the database, at once. Setting the zone it already has changes nothing,
// except that it records the zone as chosen (a database upgraded from before
// zones were stored has UTC, not chosen). Operators only.
func (e *Engine) SetTimeZone(ctx context.Context, actor Actor, in SetTimeZoneInput) (*TimeZoneChange, error) {
	if err := actor.requireRole("set time zone", RoleAdmin); err != nil {
		return nil, err
	}
	loc, err := LoadTimeZone("timezone", in.TimeZone)
	if err != nil {
		return nil, err
	}
	in.TimeZone = loc.String()
	var out *TimeZoneChange
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "settings.timezone", in, now, func() (*TimeZoneChange, error) {
			s, err := tx.Settings()
			if err != nil {
				return nil, err
			}
			old, err := LoadTimeZone("timezone", s.TimeZone)
			if err != nil {
				return nil, err
			}
			c := &TimeZoneChange{From: s.TimeZone, To: in.TimeZone, At: now}
			c.DayBefore, c.MonthBefore = windowKeys(old, now)
			c.DayAfter, c.MonthAfter = windowKeys(loc, now)
			if in.OnlyIfUnset && s.UpdatedAt != nil {
				c.To, c.DayAfter, c.MonthAfter = c.From, c.DayBefore, c.MonthBefore
				return c, nil
			}
			if s.TimeZone == in.TimeZone && s.UpdatedAt != nil {
				return c, nil
			}
			s.TimeZone, s.UpdatedAt = in.TimeZone, &now
			return c, tx.UpdateSettings(s)
		})
		return err
	})
	return out, err
}

// windowKeys returns the day and month a moment falls in, in a zone.
func windowKeys(loc *time.Location, t time.Time) (day, month string) {
	local := t.In(loc)
	return local.Format("2006-01-02"), local.Format("2006-01")
}

// nextDay and nextMonth return when the current day and month windows reset.
func nextDay(loc *time.Location, t time.Time) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc).UTC()
}

func nextMonth(loc *time.Location, t time.Time) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, loc).UTC()
}
