package postgres

import "github.com/agentledger/agentledger/engine"

// Settings implements engine.Tx. The migration stores the time zone row;
// an updated_at of 0 means never changed.
func (t *tx) Settings() (*engine.Settings, error) {
	if s := t.prefetch.takeSettings(); s != nil {
		return s, nil
	}
	s, err := scanSettings(t.queryRow(settingsQuery))
	if isNoRows(err) {
		return nil, notFound("setting", "timezone")
	}
	return s, err
}

const settingsQuery = `SELECT value, updated_at FROM settings WHERE key = 'timezone'`

func scanSettings(row scanner) (*engine.Settings, error) {
	var s engine.Settings
	var updated int64
	if err := row.Scan(&s.TimeZone, &updated); err != nil {
		return nil, err
	}
	if updated != 0 {
		at := fromMicros(updated)
		s.UpdatedAt = &at
	}
	return &s, nil
}

// UpdateSettings implements engine.Tx.
func (t *tx) UpdateSettings(s *engine.Settings) error {
	var updated int64
	if s.UpdatedAt != nil {
		updated = micros(*s.UpdatedAt)
	}
	_, err := t.exec(`INSERT INTO settings (key, value, updated_at) VALUES ('timezone', $1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, s.TimeZone, updated)
	return err
}
