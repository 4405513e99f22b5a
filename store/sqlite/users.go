package sqlite

import "github.com/agentledger/agentledger/engine"

const userColumns = `id, name, email, kyc_status, created_at, updated_at`

func scanUser(s scanner) (*engine.User, error) {
	var u engine.User
	var created, updated int64
	if err := s.Scan(&u.ID, &u.Name, &u.Email, &u.KYCStatus, &created, &updated); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// InsertUser implements engine.Tx.
func (t *tx) InsertUser(u *engine.User) error {
	_, err := t.exec(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.Email, u.KYCStatus, micros(u.CreatedAt), micros(u.UpdatedAt))
	return err
}

// UpdateUser implements engine.Tx.
func (t *tx) UpdateUser(u *engine.User) error {
	if h := t.hot(); h != nil {
		forget(h, h.users, u.ID)
	}
	return t.execOne(notFound("user", u.ID), `UPDATE users SET email = ?, kyc_status = ?, updated_at = ? WHERE id = ?`,
		u.Email, u.KYCStatus, micros(u.UpdatedAt), u.ID)
}

// FindUser implements engine.Tx.
func (t *tx) FindUser(ref string) (*engine.User, error) {
	column := refColumn(ref, engine.PrefixUser)
	find := func() (*engine.User, error) {
		return findOne(t, scanUser, notFound("user", ref), `SELECT `+userColumns+` FROM users WHERE `+column+` = ?`, ref)
	}
	if column != "id" { // kept by id only
		return find()
	}
	return findKept(t, func(h *hotRows) *map[string]*engine.User { return &h.users }, ref, cloneUser, find)
}

// ListUsers implements engine.Tx.
func (t *tx) ListUsers(f engine.UserFilter) ([]*engine.User, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.Query(`SELECT `+userColumns+` FROM users`, "id", f.Limit)
	return queryList(t, scanUser, q, args...)
}
