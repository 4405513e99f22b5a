package sqlite

import (
	"github.com/agentledger/agentledger/engine"
)

// Settings implements engine.Tx.
func (t *tx) Settings() (*engine.Settings, error) {
	h := t.hot()
	if h != nil {
		if k, ok := h.settings[struct{}{}]; ok {
			return k.get()
		}
	}
	k, err := t.readSettings()
	if err != nil {
		return nil, err
	}
	if h != nil {
		set(h, &h.settings, struct{}{}, k)
	}
	return k.get()
}

func (t *tx) readSettings() (keptSettings, error) {
	var k keptSettings
	var updated int64
	err := t.queryRow(`SELECT value, updated_at FROM settings WHERE key = 'timezone'`).Scan(&k.s.TimeZone, &updated)
	if isNoRows(err) {
		return k, nil
	} else if err != nil {
		return k, err
	}
	k.found = true
	if updated != 0 {
		at := fromMicros(updated)
		k.s.UpdatedAt = &at
	}
	return k, nil
}

// get returns a copy of the settings, or notFound when there are none.
func (k keptSettings) get() (*engine.Settings, error) {
	if !k.found {
		return nil, notFound("setting", "timezone")
	}
	s := k.s
	s.UpdatedAt = clonePtr(k.s.UpdatedAt)
	return &s, nil
}

// UpdateSettings implements engine.Tx.
func (t *tx) UpdateSettings(s *engine.Settings) error {
	if h := t.hot(); h != nil {
		forget(h, h.settings, struct{}{})
	}
	var updated int64
	if s.UpdatedAt != nil {
		updated = micros(*s.UpdatedAt)
	}
	_, err := t.exec(`INSERT INTO settings (key, value, updated_at) VALUES ('timezone', ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, s.TimeZone, updated)
	return err
}
