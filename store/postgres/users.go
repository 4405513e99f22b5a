package postgres

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

// InsertUser implements engine.Tx. A taken name (or id) is a conflict that
// leaves the transaction usable.
func (t *tx) InsertUser(u *engine.User) error {
	return t.insertUnique(conflict("a user named "+u.Name+" already exists"),
		`INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		u.ID, u.Name, u.Email, u.KYCStatus, micros(u.CreatedAt), micros(u.UpdatedAt))
}

// UpdateUser implements engine.Tx.
func (t *tx) UpdateUser(u *engine.User) error {
	return t.execOne(notFound("user", u.ID), `UPDATE users SET email = $1, kyc_status = $2, updated_at = $3 WHERE id = $4`,
		u.Email, u.KYCStatus, micros(u.UpdatedAt), u.ID)
}

// FindUser implements engine.Tx.
func (t *tx) FindUser(ref string) (*engine.User, error) {
	if u := t.prefetch.takeUser(ref); u != nil {
		return u, nil
	}
	column := refColumn(ref, engine.PrefixUser)
	return findOne(t, scanUser, notFound("user", ref), `SELECT `+userColumns+` FROM users WHERE `+column+` = $1`, ref)
}

// ListUsers implements engine.Tx.
func (t *tx) ListUsers(f engine.UserFilter) ([]*engine.User, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.query(`SELECT `+userColumns+` FROM users`, "id", f.Limit)
	return queryList(t, scanUser, q, args...)
}
