package postgres

// Stubs of the objects methods, replaced as they are written.

import (
	"errors"
	"time"

	"github.com/agentledger/agentledger/engine"
)

var _ = time.Now
var _ engine.Tx

var errNotWrittenObjects = errors.New("postgres: not written yet")

func (t *tx) InsertUser(u *engine.User) error                       { return errNotWrittenObjects }
func (t *tx) UpdateUser(u *engine.User) error                       { return errNotWrittenObjects }
func (t *tx) FindUser(ref string) (*engine.User, error)             { return nil, errNotWrittenObjects }
func (t *tx) ListUsers(f engine.UserFilter) ([]*engine.User, error) { return nil, errNotWrittenObjects }
func (t *tx) InsertAgent(a *engine.Agent) error                     { return errNotWrittenObjects }
func (t *tx) UpdateAgent(a *engine.Agent) error                     { return errNotWrittenObjects }
func (t *tx) UpdateAgentRisk(agentID string, risk engine.RiskState) error {
	return errNotWrittenObjects
}
func (t *tx) FindAgent(ref string) (*engine.Agent, error) { return nil, errNotWrittenObjects }
func (t *tx) ListAgents(f engine.AgentFilter) ([]*engine.Agent, error) {
	return nil, errNotWrittenObjects
}
func (t *tx) InsertCard(c *engine.Card, secret engine.CardSecret) error { return errNotWrittenObjects }
func (t *tx) UpdateCard(c *engine.Card) error                           { return errNotWrittenObjects }
func (t *tx) FindCard(id string) (*engine.Card, error)                  { return nil, errNotWrittenObjects }
func (t *tx) FindCardByPAN(pan string) (*engine.Card, error)            { return nil, errNotWrittenObjects }
func (t *tx) CardSecret(id string) (engine.CardSecret, error) {
	return engine.CardSecret{}, errNotWrittenObjects
}
func (t *tx) ListCards(f engine.CardFilter) ([]*engine.Card, error) { return nil, errNotWrittenObjects }
func (t *tx) InsertKey(k *engine.APIKey) error                      { return errNotWrittenObjects }
func (t *tx) UpdateKey(k *engine.APIKey) error                      { return errNotWrittenObjects }
func (t *tx) FindKey(id string) (*engine.APIKey, error)             { return nil, errNotWrittenObjects }
func (t *tx) FindKeyByHash(hash []byte) (*engine.APIKey, error)     { return nil, errNotWrittenObjects }
func (t *tx) ListKeys(f engine.KeyFilter) ([]*engine.APIKey, error) { return nil, errNotWrittenObjects }
func (t *tx) Settings() (*engine.Settings, error)                   { return nil, errNotWrittenObjects }
func (t *tx) UpdateSettings(s *engine.Settings) error               { return errNotWrittenObjects }
